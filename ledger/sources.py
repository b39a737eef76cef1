"""Published figures from the seed documents: the demo data (`ledger demo`) and the
tests' inputs.

Every figure is written as published: money in integer euro cents, and each one
names the seed file and lines it comes from (`shared/seeds/`, "seed 000" =
000_24dcaef7cdbd6af0.txt and so on). Where a source disagrees with itself, the
figure stays as published and a comment says so (domain.md §8). Values the sources
do not give are marked `# illustrative: not in the source`. Nothing here is
computed by the ledger: the tests post these figures and check what the ledger
makes of them against results worked out by hand.
"""

from __future__ import annotations

EURO = 100  # cents per euro

# --- 0. Purmerend: participatiebudget and reserve 2014-2018 -----------------------
# Seed 002, table at L1316-1360, whole euros as published; shared/reference/purmerend.md.
PURMEREND = "GM0439"
PURMEREND_YEARS = (2014, 2015, 2016, 2017, 2018)
# The opening balance is not in the source: it is the one figure that leaves the
# reserve exactly empty after 2018, as L1280 says it is ("Vanaf 2019 is de reserve leeg").
PURMEREND_RESERVE_OPENING = 1_623_614 * EURO
# (event type, data without amount, euros per year 2014..2018; None: nothing that year)
PURMEREND_ROWS: list[tuple[str, dict[str, str], tuple[int | None, ...]]] = [
    ("BudgetAllocated", {"source": "rijk"}, (2_348_483, None, None, None, None)),
    ("BudgetAllocated", {"source": "sociaal-deelfonds"}, (None, 1_975_616, 1_975_616, 1_982_104, 2_059_961)),
    ("ReserveWithdrawn", {"reserve": "participatie"}, (548_441, 290_654, 301_757, 293_564, 189_198)),
    ("IncomeBooked", {"source": "meeneemregeling"}, (102_562, None, None, None, None)),
    ("IncomeBooked", {"source": "algemene-middelen"}, (1_455_273, 1_923_745, 2_116_054, 2_333_743, 2_535_568)),
    ("CostBooked", {"category": "loonkosten"}, (1_989_373, 1_977_245, 2_005_916, 2_046_381, 2_065_225)),
    ("CostBooked", {"category": "sociaal-rendement"}, (100_753, 268_748, 438_250, 609_735, 783_344)),
    ("CostBooked", {"category": "scholing"}, (55_829, 10_000, 10_000, 10_000, 10_000)),
    ("CostBooked", {"category": "activering"}, (461_000, 360_000, 360_000, 360_000, 360_000)),
    ("CostBooked", {"category": "bemiddeling"}, (415_000, 266_947, 266_904, 268_098, 268_098)),
    ("CostBooked", {"category": "diagnose"}, (88_500, 81_000, 81_000, 81_000, 81_000)),
    ("CostBooked", {"category": "uitvoering"}, (891_738, 863_154, 868_436, 871_276, 876_755)),
    ("CostBooked", {"category": "individuele-kosten"}, (220_000, 220_421, 220_421, 220_421, 220_421)),
    ("CostBooked", {"category": "projecten"}, (82_566, None, None, None, None)),
    ("CostBooked", {"category": "inburgering"}, (35_000, 20_000, 20_000, 20_000, 20_000)),
    ("CostBooked", {"category": "bbz"}, (5_000, 2_500, 2_500, 2_500, 2_500)),
    ("CostBooked", {"category": "oud-wiw"}, (110_000, 120_000, 120_000, 120_000, 120_000)),
]

# --- 1. Lelystad: integratie-uitkering Participatiewet 2015-2019 -------------------
# Seed 000, Bijlage 3. Unit: "bedragen x €1,-" (whole euros, L1851, L1865, L1875,
# L1887), so cents = euros * 100 exactly.
# The header says "Berichtgeving dec 2015", but the document is dated June 2015 (L1467).
LELYSTAD = "GM0995"
LELYSTAD_INTEGRATIE_UITKERING = {
    # a: klassieke doelgroep (oud Wwb), "obv rekenmodel van 18 december 2014"  L1873
    # b: nieuwe doelgroep, "in lijn met ontwikkeling macrobedragen"              L1885
    # c: sociale werkvoorziening (Wsw), same method                             L1897
    # total: "Bedrag Lelystad IU Participatiewet (A+B+C)"                        L1899
    # Every published total equals a + b + c.
    2015: {"a": 3_940_245 * EURO, "b": 173_547 * EURO, "c": 7_873_942 * EURO, "total": 11_987_734 * EURO},
    2016: {"a": 3_631_807 * EURO, "b": 424_521 * EURO, "c": 7_259_024 * EURO, "total": 11_315_352 * EURO},
    2017: {"a": 3_334_512 * EURO, "b": 673_724 * EURO, "c": 6_673_935 * EURO, "total": 10_682_171 * EURO},
    2018: {"a": 3_196_837 * EURO, "b": 898_257 * EURO, "c": 6_130_636 * EURO, "total": 10_225_730 * EURO},
    2019: {"a": 3_213_363 * EURO, "b": 1_054_604 * EURO, "c": 5_730_126 * EURO, "total": 9_998_093 * EURO},
}
# The Rijk has made the 2015 amounts available ("in 2015 beschikbaar heeft gesteld",
# L1433-1435); every later year is an estimate: "Inschatting uitkering Lelystad" heads each
# part of the table (L1853, L1867, L1877, L1889), and C's estimated fall "zal jaarlijks
# worden geactualiseerd" (L1845-1847). So the demo allocates 2016-2019 voorlopig.
LELYSTAD_ESTIMATED_YEARS = (2016, 2017, 2018, 2019)
# Inconsistency (digest 000 §5): b is said to follow the macro trend, but
# 173.547 * macro(year)/macro(2015) gives 424.522 / 673.726 / 898.259 / 1.054.606,
# one or two euros above the published 2016-2019 figures. c matches the trend.
# Kept as published. 2015 also appears in the text: A L1449, C L1454, B L1456, and
# A+B = 4.113.792 at L1809.

# --- 2. Lelystad: NUON reserve ----------------------------------------------------
# Seed 000 L1449-1452: "€ 1.000.000 (eigen gemeentelijke bijdrage NUON reserve)", listed
# next to the 2015 klassieke-doelgroep budget of € 3.940.245.
# Seed 000 L1460-1463: "NB. Voor wat betreft het bedrag € 3.940.245 is in de voorstellen van
#   de Kadernota 2016 meegenomen om vanuit de NUON reserve voor een periode van drie jaar,
#   jaarlijks 1 miljoen aan dit budget toe te voegen. De revenuen hiervan zullen tot een
#   totaal van het beschikbaar gestelde bedrag terugvloeien in de NUON reserve."
NUON_RESERVE = {
    "party": LELYSTAD,
    "reserve": "nuon",
    # illustrative: not in the source. The source gives no balance. 3m is the smallest
    # balance that covers the three withdrawals, so a fourth 1m without reflux would
    # make the reserve negative.
    "openingCents": 3_000_000 * EURO,
    # "voor een periode van drie jaar, jaarlijks 1 miljoen" (L1460-1462). The years are
    # not stated. 2016-2018 is our reading of "Kadernota 2016"; L1449-1452 could also
    # be read as starting in 2015.
    "withdrawals": {2016: 1_000_000 * EURO, 2017: 1_000_000 * EURO, 2018: 1_000_000 * EURO},
    # The money goes to the A budget (klassieke doelgroep, € 3.940.245): L1460-1461.
    "toBudget": "participatiebudget",
    # "tot een totaal van het beschikbaar gestelde bedrag terugvloeien" (L1462-1463):
    # the total reflux is capped at the total withdrawn.
    "refluxCapCents": 3_000_000 * EURO,
}

# illustrative: not in the source. Seed 000 proposes to put the winst "op de voorkant":
# dagbesteding als opstap naar werk and arbeidsleren, for the most vulnerable ("Het
# solidariteitsbeginsel", L1419-1423), but gives no amounts (digest 000 §4).
LELYSTAD_WINST = {
    "year": 2016,
    "realised": {"loonvormende-arbeid": 250_000 * EURO},
    "reinvested": {"dagbesteding": 150_000 * EURO, "arbeidsleren": 60_000 * EURO},
}

# --- 3. Regionaal Werkbedrijf Stedendriehoek en Noord-Veluwe ----------------------
# Seed 003. CBS codes are ours; the source gives names only.
# The 14 gemeenten: footnote 2 at L152-155, and "bestaat uit 14 gemeenten" at L1282-1283.
RWB_MEMBERS = {
    "GM0200": "Apeldoorn",
    "GM0213": "Brummen",
    "GM0232": "Epe",
    "GM0285": "Voorst",
    "GM0150": "Deventer",
    "GM0175": "Olst-Wijhe",  # "Olst/Wijhe" at L1289
    "GM0301": "Zutphen",
    "GM0262": "Lochem",
    "GM0243": "Harderwijk",
    "GM0230": "Elburg",
    "GM0233": "Ermelo",
    "GM0302": "Nunspeet",
    "GM0273": "Putten",
    "GM0050": "Zeewolde",
}
# Hattem, Heerde and Oldebroek are not RWB members. Oldebroek is only in the GR
# Noord-Veluwe (L209-215); Hattem and Heerde are not in the source at all.

# Apeldoorn is the centrumgemeente (L1283-1284). The Rijk pays the money "via de
# centrumgemeente" (L1836-1838).
RWB_FUND_HOLDER = "GM0200"

# Rijk setup money, "€1 miljoen" (L1814-1815), "beschikbaar in drie delen" (L1832-1835).
# Published as "€ 100.000,--". The tranches add up to the 1m.
RWB_RIJK_TRANCHES = (
    (2014, 100_000 * EURO),  # L1833
    (2015, 500_000 * EURO),  # L1834
    (2016, 400_000 * EURO),  # L1835
)
RWB_RIJK_TOTAL = 1_000_000 * EURO  # L1814

# Begroting 2015: Bijlage 5 "Concept begroting Regionaal Werkbedrijf" (L2558-2632).
# The names are the "Ondersteuning" column as published (line breaks joined); the
# codes are ours. The nine lines add up to the published total, which equals the 2015 tranche.
RWB_BEGROTING_2015 = {
    "ambtelijke-ondersteuning": ("Ambtelijke (beleids)ondersteuning Regionaal Werkbedrijf", 60_000 * EURO),  # L2562-2563, L2569
    "clientenparticipatie": ("Faciliteren Cliëntenparticipatie", 20_000 * EURO),  # L2571, L2574
    "secretariele-ondersteuning": ("Secretariële ondersteuning Regionaal Werkbedrijf", 20_000 * EURO),  # L2576-2577, L2582
    "werkgeversdienstverlening": (
        "Doorontwikkelen regionale werkgeversdienstverlening; uitvoering marktbewerkingsplan",
        40_000 * EURO,
    ),  # L2584-2586, L2595
    "basispakket-instrumenten": ("Inhoudelijke uitwerking van het basispakket aan instrumenten", 60_000 * EURO),  # L2597-2598, L2604
    # The odd wording "realiseren gerealiseerde" is in the source.
    "monitoring-banen": ("Monitoring realiseren gerealiseerde banen", 40_000 * EURO),  # L2606, L2609
    "communicatie": ("Communicatie", 60_000 * EURO),  # L2611, L2614
    "ontwikkelbudget": ("Ontwikkelbudget nieuwe projecten", 100_000 * EURO),  # L2616, L2621
    "onvoorzien": ("Onvoorzien", 100_000 * EURO),  # L2623, L2627
}
RWB_BEGROTING_2015_TOTAL = 500_000 * EURO  # "Totaal € 500.000,-" L2629
# The begroting is a concept ("Concept begroting Regionaal Werkbedrijf", L2631-2632) of "een
# separate, door het bestuur van het Regionaal Werkbedrijf vast te stellen begroting"
# (L1838-1841): the demo allocates its lines voorlopig, and the bestuur's adoption makes
# each line definitief. illustrative: not in the source: the date of the adoption, and
# that it leaves every line as the concept has it (a definitief allocation of 0 cents).
RWB_BEGROTING_2015_ADOPTED = "2015-04-15"
# "Onvoorzien: Gedurende het jaar zal blijken welke ondersteuning (mogelijk) nog ontbreekt.
# Deze middelen kunnen hiervoor worden ingezet." (L2623-2625). Onvoorzien is binding in the
# demo, so the bestuur amends the begroting (a BudgetRevised on each line; the total stays
# the 2015 tranche). illustrative: not in the source: the amount, the line it goes to, the
# date and the decision.
RWB_AMENDMENT_2015 = {
    "date": "2015-09-15",
    "councilDecision": "Besluit bestuur Regionaal Werkbedrijf 15 september 2015",
    "from": "onvoorzien",
    "to": "werkgeversdienstverlening",
    "cents": 25_000 * EURO,
}
# A verplichting on the monitoring line ("Monitoring realiseren gerealiseerde banen", 40.000,
# L2606-2609): the RWB orders the monitoring, pays part of it against the order and releases
# what it no longer expects. illustrative: not in the source: every figure and date here.
RWB_COMMITMENT_2015 = {
    "commitmentId": "RWB-2015-monitoring",
    "line": "monitoring-banen",
    "registered": ("2015-05-01", 30_000 * EURO),
    "used": ("2015-10-31", 18_000 * EURO),
    "released": ("2015-12-15", 2_000 * EURO),
}

# --- 4. Drentsche Aa (Alescon + ISD-AAT business case) ----------------------------
# Seed 004 mentions "de drie gemeenten" (L276, L1426) but never names them. ISD-AAT
# serves Aa en Hunze, Assen and Tynaarlo. That is outside knowledge, not the source.
DRENTSCHE_AA_MEMBERS = {
    "GM1680": "Aa en Hunze",
    "GM0106": "Assen",
    "GM1730": "Tynaarlo",
}

# Wsw unit results for 2015, in cents; a negative value is a deficit.
DRENTSCHE_AA_UNITS_2015 = {
    # 310 persons; costs € 10,4 mln, rijksmiddelen € 8,4 mln; "Het tekort bedraagt naar
    # verwachting in 2015 € 2 miljoen" (L1581-1595).
    "beschut": -2_000_000 * EURO,
    # 160 persons; revenue € 4,4 mln, costs € 4 mln; "Het overschot ... in 2015 € 0,4 miljoen"
    # (L1626-1638).
    "woo": 400_000 * EURO,
    # 310 persons; revenue € 6,7 mln, costs € 6,4 mln; "Het overschot ... in 2015 € 0,3
    # miljoen" (L1658-1678). Costs exclude the coaches (footnote 8, L1681-1684).
    "detachering": 300_000 * EURO,
}
# Headcounts by unit (L1581, L1626, L1664). The illustrative usage below adds up to these.
DRENTSCHE_AA_HEADCOUNT_2015 = {"beschut": 310, "woo": 160, "detachering": 310}

# illustrative: not in the source. Approximate CBS inhabitant counts around 2015,
# rounded to hundreds.
DRENTSCHE_AA_INWONERS = {"GM1680": 25_300, "GM0106": 67_300, "GM1730": 33_100}

# illustrative: not in the source. Wsw employees per member and unit. The source's
# per-municipality annexes (L2094, L2105) are missing from the extracted text. The
# shares differ from the inhabitant shares, so a profijt split (by usage) differs from
# a solidariteit split (by inhabitants). Principle: L1936-1944.
DRENTSCHE_AA_USAGE = {
    "beschut": {"GM1680": 50, "GM0106": 200, "GM1730": 60},
    "woo": {"GM1680": 25, "GM0106": 110, "GM1730": 25},
    "detachering": {"GM1680": 70, "GM0106": 160, "GM1730": 80},
}


# The business case's yearly flows (L1077-1087): persons, and the benefits they no
# longer draw. Each amount is the unrounded number of persons x € 10.100 (digest 004
# §4); these two have whole numbers of persons, so each person avoids exactly € 10.100.
DRENTSCHE_AA_OUTFLOW_2015 = {
    "handhaving": (145, 1_464_500 * EURO),
    "school": (77, 777_700 * EURO),
}
# Placements from the same flows: 58 afspraakbanen and 20 new beschut werk places
# (L1077-1081). The gemeenten set how many beschut werk places there are (L1371-1377);
# illustrative: not in the source: that cap is the 20 of the year's intake, and the
# hours per week (a banenafspraak job counts 25 hours).
DRENTSCHE_AA_PLACEMENTS_2015 = {"banenafspraak": (58, 25), "beschut-werk": (20, 32)}
DRENTSCHE_AA_BESCHUT_CAP_2015 = 20

# illustrative: not in the source. Seed 004 gives no advances (voorschotten) and no key
# (digest 004 §1). Drentsche Aa invoices each member a quarterly advance on the 2015
# charge of € 1,3 mln (the units' net result, L1581-1678), roughly by inhabitants (the
# solidariteit "used until now", L1936-1944): € 260.000, € 700.000 and € 340.000 a year.
# The year's key is profijt, so at the settlement Assen, which uses the Wsw most, pays
# more and the other two get money back. Tynaarlo has paid three of its four quarters.
# Per quarter: the day it is invoiced and the day the members pay it.
DRENTSCHE_AA_ADVANCE_QUARTERS_2015 = (
    ("2015-01-01", "2015-02-15"), ("2015-04-01", "2015-05-15"),
    ("2015-07-01", "2015-08-15"), ("2015-10-01", "2015-11-15"),
)
DRENTSCHE_AA_ADVANCE_2015 = {"GM1680": 65_000 * EURO, "GM0106": 175_000 * EURO, "GM1730": 85_000 * EURO}  # a quarter
DRENTSCHE_AA_QUARTERS_PAID_2015 = {"GM1680": 4, "GM0106": 4, "GM1730": 3}
