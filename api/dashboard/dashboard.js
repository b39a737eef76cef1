// The controllers' dashboard. It reads the ledger's own API (/v1) with the token the
// controller signs in with, and draws what it gets: no library and nothing from another
// server, so it works offline. Amounts stay integer cents until they are written out.

const XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
const TOKEN_KEY = "participatie-ledger-token";

const state = { token: sessionStorage.getItem(TOKEN_KEY), parties: [], generation: 0 };
const $ = (selector, root = document) => root.querySelector(selector);

// --- formatting: Dutch, as controllers write it ------------------------------------

/** Cents as euros the Dutch way: € 1.234.567,89 (and € -22.616,00). */
function euro(cents) {
  const sign = cents < 0 ? "-" : "";
  const whole = Math.floor(Math.abs(cents) / 100);
  const rest = Math.abs(cents) % 100;
  return `€ ${sign}${grouped(whole)},${String(rest).padStart(2, "0")}`;
}

function grouped(whole) {
  return String(whole).replace(/\B(?=(\d{3})+(?!\d))/g, ".");
}

/** A count or a measure: 1.234 or 12,5. */
function number(value) {
  const [whole, fraction] = String(Math.abs(value)).split(".");
  return (value < 0 ? "-" : "") + grouped(whole) + (fraction ? "," + fraction.slice(0, 2) : "");
}

function percent(part, total) {
  if (!total) return "";
  return (Math.round((part / total) * 1000) / 10).toFixed(1).replace(".", ",") + "%";
}

const LABELS = {
  "participatiebudget": "Participatiebudget", "inkomensdeel": "Inkomensdeel", "werkbedrijf": "Werkbedrijf",
  "rwb-opstartmiddelen": "Opstartmiddelen Regionaal Werkbedrijf", "beschut-werk": "Beschut werk",
  "banenafspraak": "Banenafspraak", "detachering": "Detachering", "proefplaatsing": "Proefplaatsing",
  "werkervaringsplaats": "Werkervaringsplaats", "regulier": "Regulier werk", "dagbesteding": "Dagbesteding",
  "arbeidsleren": "Arbeidsleren", "loonvormende-arbeid": "Loonvormende arbeid", "ideel-besparing": "Besparing inkomensdeel",
  "opdrachten": "Opdrachten", "beschut": "Beschut werk", "woo": "Werkontwikkeling (WOO)", "inwoners": "inwoners",
  "clienten": "cliënten", "wsw-se": "Wsw-standaardeenheden", "vast": "vaste verdeling", "gebruik": "gebruik",
  "participatie": "Reserve participatie", "nuon": "NUON-reserve",
};

/** The Dutch label of a code, or the code written as words. */
function label(code) {
  if (code in LABELS) return LABELS[code];
  const words = code.replace(/-/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function partyName(code) {
  const party = state.parties.find((p) => p.code === code);
  return party ? party.name : code;
}

// --- the API -------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

async function request(path, params = {}, accept = "application/json") {
  const url = new URL(path, location.origin);
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null) url.searchParams.set(name, value);
  }
  const response = await fetch(url, { headers: { Authorization: `Bearer ${state.token}`, Accept: accept } });
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    if (response.status === 401) signOut("Dit token is onbekend, verlopen of ingetrokken. Log opnieuw in.");
    throw new ApiError(response.status, problem);
  }
  return accept === "application/json" ? response.json() : response.blob();
}

/** Every row of a paged list. */
async function everyRow(path, params) {
  const rows = [];
  for (let page = 1; ; page++) {
    const body = await request(path, { ...params, page, pageSize: 1000 });
    rows.push(...body.results);
    if (!body.next) return rows;
  }
}

async function download(path, params, filename) {
  const blob = await request(path, params, XLSX);
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}

// --- building the page -----------------------------------------------------------------

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "className") node.className = value;
    else if (name.startsWith("data")) node.dataset[name.slice(4, 5).toLowerCase() + name.slice(5)] = value;
    else node.setAttribute(name, value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

/** A table cell holding an amount: its text in euros, its cents for whoever checks. */
function amountCell(field, cents) {
  return element("td", { className: "bedrag" + (cents < 0 ? " negatief" : ""), dataVeld: field, dataCents: String(cents) },
    euro(cents));
}

/** Horizontal bars, each as wide as its share of `scale`. */
function bars(scale, ...items) {
  const box = element("div", { className: "balken" });
  for (const [kind, cents, title] of items) {
    const bar = element("div", { className: `balk ${kind}`, title: `${title}: ${euro(cents)}` });
    bar.style.width = scale > 0 ? `${Math.max(0, Math.min(100, (cents / scale) * 100))}%` : "0";
    box.append(bar);
  }
  return box;
}

function sectionError(section, error) {
  const body = $(".inhoud", section) || $(".grafieken", section) || $(".verdelingen", section) || $("tbody", section);
  body.replaceChildren();
  body.append(element("p", { className: "fout", role: "alert" }, `Kon niet laden: ${error.message}`));
}

// --- the sections ------------------------------------------------------------------------

async function showBalances(party, year, current) {
  const section = $("#budgetten");
  const rows = await everyRow("/v1/balances", { party, year });
  if (!current()) return;
  rows.sort((a, b) => a.budget.localeCompare(b.budget) || (a.subBudget ?? "").localeCompare(b.subBudget ?? ""));
  const scale = Math.max(0, ...rows.map((r) => Math.max(r.allocatedCents + r.incomeCents, r.spentCents)));
  const body = $("tbody", section);
  body.replaceChildren();
  for (const row of rows) {
    const plan = row.allocatedCents + row.incomeCents;
    const over = row.availableCents < 0;
    const name = row.subBudget === null
      ? element("th", { scope: "row" }, label(row.budget))
      : element("th", { scope: "row", className: "sub" }, label(row.subBudget));
    if (over) name.append(" ", element("span", { className: "vlag" }, "overschreden"));
    const saldo = amountCell("saldo", row.saldoCents);
    if (row.saldoCents < 0) saldo.prepend(element("span", { className: "vlag" }, "tekort"), " ");
    body.append(element("tr", { className: over ? "overschreden" : "", dataBudget: row.budget, dataSub: row.subBudget ?? "" },
      name, amountCell("begroting", plan), amountCell("realisatie", row.spentCents),
      amountCell("verplicht", row.committedCents), amountCell("beschikbaar", row.availableCents), saldo,
      element("td", { className: "staaf" },
        bars(scale, ["begroting", plan, "Begroting"], [row.spentCents > plan ? "realisatie over" : "realisatie", row.spentCents, "Realisatie"]))));
  }
  $("table", section).hidden = rows.length === 0;
  $(":scope > .leeg", section).hidden = rows.length > 0;
}

async function showReserves(party, years, current) {
  const section = $("#reserves");
  const perYear = await Promise.all(years.map((year) => everyRow("/v1/reserves", { party, year })));
  if (!current()) return;
  const reserves = new Map();
  years.forEach((year, i) => {
    for (const row of perYear[i]) {
      if (!reserves.has(row.reserve)) reserves.set(row.reserve, { purpose: row.purpose, balances: new Map() });
      reserves.get(row.reserve).balances.set(year, row.balanceCents);
    }
  });
  const box = $(".grafieken", section);
  box.replaceChildren();
  for (const [reserve, { purpose, balances }] of reserves) {
    box.append(element("figure", { className: "reserve", dataReserve: reserve },
      element("figcaption", {}, element("strong", {}, label(reserve)), purpose ? ` · ${purpose}` : ""),
      columnChart(years, balances),
      element("table", {},
        element("thead", {}, element("tr", {}, element("th", {}, "Jaar"), element("th", { className: "bedrag" }, "Saldo eind jaar"))),
        element("tbody", {}, ...years.filter((y) => balances.has(y)).map((year) =>
          element("tr", { dataJaar: String(year) }, element("th", { scope: "row" }, String(year)), amountCell("saldo", balances.get(year))))))));
  }
  $(":scope > .leeg", section).hidden = reserves.size > 0;
}

/** One column per year, as an SVG that scales with the page. */
function columnChart(years, balances) {
  const ns = "http://www.w3.org/2000/svg";
  const width = 640, height = 220, top = 24, bottom = 28;
  const values = years.map((y) => balances.get(y) ?? 0);
  const scale = Math.max(1, ...values.map(Math.abs));
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "Saldo per jaar");
  const slot = width / years.length;
  years.forEach((year, i) => {
    const h = (Math.abs(values[i]) / scale) * (height - top - bottom);
    const x = i * slot + slot * 0.2;
    const shape = (tag, attributes, text) => {
      const node = document.createElementNS(ns, tag);
      for (const [k, v] of Object.entries(attributes)) node.setAttribute(k, v);
      if (text !== undefined) node.textContent = text;
      svg.append(node);
    };
    shape("rect", { x, y: height - bottom - h, width: slot * 0.6, height: h, class: values[i] < 0 ? "kolom negatief" : "kolom" });
    shape("text", { x: x + slot * 0.3, y: height - bottom - h - 6, class: "waarde" }, euro(values[i]));
    shape("text", { x: x + slot * 0.3, y: height - 8, class: "as" }, String(year));
  });
  return svg;
}

async function showCostSplits(party, year, current) {
  const section = $("#kostenverdeling");
  const me = state.parties.find((p) => p.code === party);
  const organisations = me.kind === "organisation"
    ? [me] : state.parties.filter((p) => p.kind === "organisation" && (p.members || []).includes(party));
  const splits = await Promise.all(organisations.map(async (organisation) => {
    const path = `/v1/organisations/${organisation.code}/cost-split`;
    try {
      const [solidariteit, profijt] = await Promise.all(
        ["solidariteit", "profijt"].map((policy) => request(path, { year, policy })));
      return { organisation, solidariteit, profijt };
    } catch (error) {
      if (error.status === 404) return { organisation, missing: error.message };
      throw error;
    }
  }));
  if (!current()) return;
  const box = $(".verdelingen", section);
  box.replaceChildren(...splits.map((split) => splitBlock(split, party, year)));
  $(":scope > .leeg", section).hidden = organisations.length > 0;
}

function splitBlock({ organisation, solidariteit, profijt, missing }, party, year) {
  const block = element("div", { className: "verdeling", dataOrganisatie: organisation.code },
    element("h3", {}, `${organisation.name} (${organisation.code})`));
  if (missing) {
    block.append(element("p", { className: "leeg" }, `Geen verdeelsleutel voor ${year}: ${missing}.`));
    return block;
  }
  if (!solidariteit.shares.length) {  // no key and nothing that needs one
    block.append(element("p", { className: "leeg" }, `Niets te verdelen in ${year}; er is geen verdeelsleutel vastgesteld.`));
    return block;
  }
  const button = element("button", { type: "button", className: "download" }, "Download Excel");
  button.addEventListener("click", () => download(`/v1/organisations/${organisation.code}/cost-split`,
    { year, policy: profijt.policy }, `kostenverdeling-${organisation.code}-${year}.xlsx`).catch(showError));
  block.append(element("p", {},
    `Te verdelen ${euro(solidariteit.totalCents)}; verdeelsleutel naar ${label(solidariteit.basis)}. `, button));
  const byParty = new Map(profijt.shares.map((s) => [s.party, s]));
  const scale = Math.max(1, ...solidariteit.shares.concat(profijt.shares).map((s) => Math.abs(s.amountCents)));
  const rows = solidariteit.shares.map((s) => {
    const p = byParty.get(s.party);
    return element("tr", { className: s.party === party ? "eigen" : "", dataPartij: s.party },
      element("th", { scope: "row" }, `${partyName(s.party)} (${s.party})`),
      element("td", { className: "aandeel" }, percent(s.amountCents, solidariteit.totalCents)),
      amountCell("solidariteit", s.amountCents),
      element("td", { className: "aandeel" }, percent(p.amountCents, profijt.totalCents)),
      amountCell("profijt", p.amountCents),
      amountCell("verschil", p.amountCents - s.amountCents),
      element("td", { className: "staaf" },
        bars(scale, ["solidariteit", s.amountCents, "Solidariteit"], ["profijt", p.amountCents, "Profijt"])));
  });
  block.append(element("table", {},
    element("thead", {}, element("tr", {},
      element("th", {}, "Gemeente"), element("th", { className: "aandeel" }, "Aandeel"),
      element("th", { className: "bedrag" }, "Solidariteit"), element("th", { className: "aandeel" }, "Aandeel"),
      element("th", { className: "bedrag" }, "Profijt"), element("th", { className: "bedrag" }, "Verschil"),
      element("th", { className: "staaf" }, "Solidariteit (blauw) en profijt (oranje)"))),
    element("tbody", {}, ...rows),
    element("tfoot", {}, element("tr", {}, element("th", { scope: "row" }, "Totaal"), element("td"),
      amountCell("solidariteit", solidariteit.totalCents), element("td"), amountCell("profijt", profijt.totalCents),
      element("td"), element("td")))));
  if (profijt.units && profijt.units.length) {
    block.append(element("p", { className: "onderdelen" }, "Per onderdeel: ",
      ...profijt.units.map((u, i) => element("span", { dataOnderdeel: u.unit },
        `${i ? "; " : ""}${label(u.unit)} ${euro(u.totalCents)} ${u.totalCents < 0 ? "(overschot)" : "(tekort)"}`))));
  }
  return block;
}

async function showWinst(party, year, current) {
  const section = $("#winst");
  const winst = await request("/v1/winst", { party, year });
  if (!current()) return;
  const box = $(".inhoud", section);
  const available = winst.carriedOverCents + winst.realisedCents;
  const scale = Math.max(available, winst.reinvestedCents);
  const figures = [
    ["gerealiseerd", "Gerealiseerd", winst.realisedCents], ["overgebracht", "Uit eerdere jaren", winst.carriedOverCents],
    ["geherinvesteerd", "Geherinvesteerd", winst.reinvestedCents], ["vrij", "Nog niet bestemd", winst.unappropriatedCents],
  ];
  box.replaceChildren(
    element("dl", { className: "cijfers" }, ...figures.flatMap(([field, name, cents]) => [
      element("dt", {}, name), element("dd", { className: "bedrag", dataVeld: field, dataCents: String(cents) }, euro(cents))])),
    bars(scale, ["gerealiseerd", available, "Beschikbaar"], ["geherinvesteerd", winst.reinvestedCents, "Geherinvesteerd"]),
    breakdown("Bron", winst.bySource, "bron"),
    breakdown("Bestemming", winst.byDestination, "bestemming"));
  if (!winst.realisedCents && !winst.reinvestedCents && !winst.carriedOverCents) {
    box.replaceChildren(element("p", { className: "leeg" }, `Geen winst geboekt in ${year}.`));
  }
}

function breakdown(title, amounts, field) {
  const entries = Object.entries(amounts || {});
  if (!entries.length) return "";
  return element("table", { className: "uitsplitsing" },
    element("thead", {}, element("tr", {}, element("th", {}, title), element("th", { className: "bedrag" }, "Bedrag"))),
    element("tbody", {}, ...entries.map(([code, cents]) =>
      element("tr", { dataCode: code }, element("th", { scope: "row" }, label(code)), amountCell(field, cents)))));
}

async function showKpis(party, year, current) {
  const section = $("#kengetallen");
  const kpis = await request("/v1/kpis", { party, year });
  if (!current()) return;
  const tile = (field, name, value) => element("div", { className: "tegel", dataVeld: field },
    element("span", { className: "waarde" }, value), element("span", { className: "naam" }, name));
  const beschut = kpis.beschutWerk;
  const tiles = element("div", { className: "tegels" },
    tile("banenafspraak", "banen banenafspraak (25 uur)", number(kpis.banenafspraakJobs)),
    tile("beschut", beschut.cap === null ? "plaatsen beschut werk" : "plaatsen beschut werk, van het plafond",
      beschut.cap === null ? number(beschut.places) : `${number(beschut.places)} / ${number(beschut.cap)}`),
    tile("uitstroom", "uitstroom volledig / gedeeltelijk", `${number(kpis.outflow.volledig)} / ${number(kpis.outflow.gedeeltelijk)}`),
    tile("vermeden", "vermeden uitkeringen (indicatief)", euro(kpis.outflow.avoidedBenefitCents)),
    tile("subsidies", "lopende loonkostensubsidies", number(kpis.subsidies.active)),
    tile("verplichtingen", "verplichtingen subsidies", euro(kpis.subsidies.committedCents)));
  const placements = kpis.placements.length ? element("table", {},
    element("thead", {}, element("tr", {}, ...["Soort plaatsing", "Gestart", "Beëindigd", "Actief 31-12", "Doel"].map(
      (h, i) => element("th", { className: i ? "getal" : "" }, h)))),
    element("tbody", {}, ...kpis.placements.map((p) => element("tr", { dataSoort: p.kind },
      element("th", { scope: "row" }, label(p.kind)),
      ...[p.started, p.ended, p.active].map((n) => element("td", { className: "getal" }, number(n))),
      element("td", { className: "getal" }, p.target === null ? "–" : number(p.target) + (p.binding ? " (plafond)" : "")))))) : "";
  $(".inhoud", section).replaceChildren(tiles, placements);
}

// --- sign in, choosing party and year ----------------------------------------------------

function showError(error) {
  const box = $("#laadfout");
  box.textContent = `Er ging iets mis: ${error.message}`;
  box.hidden = false;
}

function signOut(message) {
  state.token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  $("#dashboard").hidden = true;
  $("#keuze").hidden = true;
  $("#inloggen").hidden = false;
  const box = $("#inlogfout");
  box.textContent = message || "";
  box.hidden = !message;
}

async function signIn(token) {
  state.token = token;
  try {
    state.parties = await everyRow("/v1/parties", {});
  } catch (error) {
    if (error.status !== 401) signOut(`Inloggen lukte niet: ${error.message}`);
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  $("#inloggen").hidden = true;
  $("#inlogfout").hidden = true;
  $("#keuze").hidden = false;
  $("#dashboard").hidden = false;
  const select = $("#partij");
  select.replaceChildren();
  for (const [kind, title] of [["gemeente", "Gemeenten"], ["organisation", "Samenwerkingsverbanden"]]) {
    const group = element("optgroup", { label: title });
    const parties = state.parties.filter((party) => party.kind === kind);
    for (const p of parties.sort((a, b) => a.name.localeCompare(b.name, "nl"))) {
      group.append(element("option", { value: p.code }, `${p.name} (${p.code})`));
    }
    if (group.children.length) select.append(group);
  }
  const [party, year] = location.hash.slice(1).split("/");
  choose(party, Number(year));
}

/** The years to offer for a party: its own, and those of the organisations it is a member of. */
function yearsOf(party) {
  const years = new Set(party.years);
  for (const p of state.parties) {
    if ((p.members || []).includes(party.code)) p.years.forEach((y) => years.add(y));
  }
  return [...years].sort((a, b) => a - b);
}

/** Select a party and year (the latest year with figures when none is asked for) and show them. */
function choose(code, year) {
  const party = state.parties.find((p) => p.code === code) || state.parties[0];
  if (!party) {
    showError(new Error("dit token mag geen enkele partij lezen"));
    return;
  }
  const years = yearsOf(party);
  const chosen = years.includes(year) ? year : years[years.length - 1];
  $("#partij").value = party.code;
  $("#jaar").replaceChildren(...years.map((y) => element("option", { value: String(y) }, String(y))));
  $("#jaar").value = String(chosen);
  history.replaceState(null, "", `#${party.code}/${chosen}`);
  show(party, chosen, years);
}

async function show(party, year, years) {
  const generation = ++state.generation;
  const current = () => generation === state.generation;
  document.body.dataset.klaar = "";
  $("#laadfout").hidden = true;
  for (const span of document.querySelectorAll(".jaar")) span.textContent = String(year);
  const sections = [
    ["#budgetten", showBalances(party.code, year, current)],
    ["#reserves", showReserves(party.code, years, current)],
    ["#kostenverdeling", showCostSplits(party.code, year, current)],
    ["#winst", showWinst(party.code, year, current)],
    ["#kengetallen", showKpis(party.code, year, current)],
  ];
  const outcomes = await Promise.allSettled(sections.map(([, work]) => work));
  if (!current()) return;
  outcomes.forEach((outcome, i) => {
    if (outcome.status === "rejected") sectionError($(sections[i][0]), outcome.reason);
  });
  document.body.dataset.klaar = `${party.code}/${year}`;  // what is shown, for whoever waits on it
}

document.addEventListener("DOMContentLoaded", () => {
  $("#inlogformulier").addEventListener("submit", (event) => {
    event.preventDefault();
    signIn($("#token").value.trim());
  });
  $("#uitloggen").addEventListener("click", () => signOut());
  $("#partij").addEventListener("change", () => choose($("#partij").value, Number($("#jaar").value)));
  $("#jaar").addEventListener("change", () => choose($("#partij").value, Number($("#jaar").value)));
  for (const button of document.querySelectorAll("button.download")) {
    button.addEventListener("click", () => {
      const [party, year] = [$("#partij").value, $("#jaar").value];
      const list = button.dataset.lijst;
      const path = { balances: "/v1/balances", reserves: "/v1/reserves", kpis: "/v1/kpis" }[list];
      download(path, { party, year }, `${list}-${party}-${year}.xlsx`).catch(showError);
    });
  }
  if (state.token) signIn(state.token);
});
