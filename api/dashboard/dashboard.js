// The controllers' dashboard. It reads the ledger's own API (/v1) with the token the
// controller signs in with, and draws what it gets. Its one library, uPlot (the charts),
// is vendored in vendor/ and served by the ledger itself: nothing comes from another
// server, so it works offline. Amounts stay integer cents until they are written out.

const XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
const CSV = "text/csv";
const CSV_NL = "text/csv; dialect=nl";  // ; between cells, euros with a decimal comma: Excel-NL opens it as it is
const ACCEPT = { xlsx: XLSX, csv: CSV, "csv-nl": CSV_NL };
const EXTENSION = { xlsx: "xlsx", csv: "csv", "csv-nl": "csv" };
const TOKEN_KEY = "participatie-ledger-token";

const state = {
  token: sessionStorage.getItem(TOKEN_KEY), parties: [], generation: 0,
  asOf: null,  // the peildatum: an RFC 3339 instant every read is asked at, or null for now
  meerjaren: null,  // the party's budget totals over its years, and the budget and years chosen
  charts: new Map(),  // section id to its uPlot charts, destroyed when the section is drawn anew
};
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

/** "Naam (CODE)" when the party is readable (its name known), else the code alone: a member
 * of an organisation the token may not read is GM1730, never "GM1730 (GM1730)". */
function partyLabel(code) {
  const name = partyName(code);
  return name && name !== code ? `${name} (${code})` : code;
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
  if (state.asOf) url.searchParams.set("asOf", state.asOf);  // the peildatum, for every read of the page
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null) url.searchParams.set(name, value);
  }
  const response = await fetch(url, { headers: { Authorization: `Bearer ${state.token}`, Accept: accept } });
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    if (response.status === 401) signOut(refusedToken(problem));
    throw new ApiError(response.status, problem);
  }
  return accept === "application/json" ? response.json() : response.blob();
}

/** Why a token was refused, as the 401 says (an expired JWT, a wrong audience), for the sign-in. */
function refusedToken(problem) {
  const why = problem && problem.detail ? ` (${problem.detail})` : "";
  return `Dit token is onbekend, verlopen of ingetrokken${why}. Log opnieuw in.`;
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

async function download(path, params, filename, accept = XLSX) {
  save(await request(path, params, accept), filename);
}

/** Hand a file the page made (or fetched) to the browser's downloads. */
function save(blob, filename) {
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
  const body = $(".inhoud", section) || $(".grafieken", section) || $(".verdelingen", section) || $("tbody", section)
    || section;
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
  const columns = $("thead tr", section).children.length;
  for (const row of rows) {
    // Begroting: the primitive begroting plus its amendments (allocatedCents); beschikbaar:
    // that plus the income (reserve withdrawals among it), what there is to spend.
    const plan = row.allocatedCents + row.incomeCents;
    const over = row.availableCents < 0;
    const line = row.subBudget === null ? label(row.budget) : `${label(row.budget)} · ${label(row.subBudget)}`;
    const name = row.subBudget === null
      ? element("th", { scope: "row" }, label(row.budget))
      : element("th", { scope: "row", className: "sub" }, label(row.subBudget));
    if (over) name.append(" ", element("span", { className: "vlag" }, "overschreden"));
    const opener = element("button", { type: "button", className: "spoor", "aria-expanded": "false",
      "aria-label": `Boekingen achter ${line} ${year}` }, "Boekingen");
    name.append(" ", opener);
    const saldo = amountCell("saldo", row.saldoCents);
    if (row.saldoCents < 0) saldo.prepend(element("span", { className: "vlag" }, "tekort"), " ");
    const tr = element("tr", { className: over ? "overschreden" : "", dataBudget: row.budget, dataSub: row.subBudget ?? "" },
      name, amountCell("begroting", row.allocatedCents), amountCell("inkomsten", row.incomeCents),
      amountCell("beschikbaar", plan), amountCell("realisatie", row.spentCents),
      amountCell("verplicht", row.committedCents), amountCell("vrij", row.availableCents), saldo,
      element("td", { className: "staaf" },
        bars(scale, ["begroting", plan, "Beschikbaar"], [row.spentCents > plan ? "realisatie over" : "realisatie", row.spentCents, "Realisatie"])));
    body.append(tr);
    opener.addEventListener("click", () => toggleTrail(tr, opener, { party, year, budget: row.budget, sub: row.subBudget, line }, columns));
  }
  $("table", section).hidden = rows.length === 0;
  $(":scope > .leeg", section).hidden = rows.length > 0;
}

// --- the trail: the events behind a budget line, who posted them and when ----------------------

const TRAIL_PAGE = 10;

/** Open (or close) the trail of a budget line in a row beneath it. */
function toggleTrail(tr, opener, line, columns) {
  const open = tr.nextElementSibling && tr.nextElementSibling.classList.contains("spoor-rij") ? tr.nextElementSibling : null;
  if (open) {
    open.remove();
    opener.setAttribute("aria-expanded", "false");
    return;
  }
  const box = element("div", { className: "spoor", role: "region", "aria-label": `Boekingen achter ${line.line} ${line.year}`,
    tabindex: "-1" });
  const id = `spoor-${line.budget}-${line.sub ?? ""}`;
  box.id = id;
  tr.after(element("tr", { className: "spoor-rij", dataSpoor: `${line.budget}/${line.sub ?? ""}` },
    element("td", { colspan: String(columns) }, box)));
  opener.setAttribute("aria-expanded", "true");
  opener.setAttribute("aria-controls", id);
  showTrail(box, line, 1).catch((error) => {
    box.replaceChildren(element("p", { className: "fout", role: "alert" }, `Kon de boekingen niet laden: ${error.message}`));
  });
}

/** One page of a line's events. A budget's total reads its trail page by page; a sub-budget's
 * line, which the trail does not filter, is the budget's trail read whole and kept to that line. */
async function trailPage({ party, year, budget, sub }, page) {
  const path = `/v1/balances/${encodeURIComponent(party)}/${year}/${encodeURIComponent(budget)}/trail`;
  if (sub === null) {
    const body = await request(path, { page, pageSize: TRAIL_PAGE });
    return { rows: body.results, count: body.count };
  }
  const all = (await everyRow(path, {})).filter((e) => e.subBudget === sub);
  return { rows: all.slice((page - 1) * TRAIL_PAGE, page * TRAIL_PAGE), count: all.length };
}

async function showTrail(box, line, page) {
  box.dataset.klaar = "";
  const { rows, count } = await trailPage(line, page);
  const pages = Math.max(1, Math.ceil(count / TRAIL_PAGE));
  const first = count ? (page - 1) * TRAIL_PAGE + 1 : 0;
  const when = state.asOf ? ` (peildatum ${peildatumText()})` : "";
  const caption = count
    ? `Boekingen achter ${line.line} ${line.year}${when}: ${first}–${first + rows.length - 1} van ${count}`
    : `Geen boekingen achter ${line.line} ${line.year}${when}.`;
  const text = (name) => element("th", { scope: "col" }, name);
  const money = (name) => element("th", { scope: "col", className: "bedrag" }, name);
  const table = element("table", { className: "spoortabel" },
    element("caption", {}, caption),
    element("thead", {}, element("tr", {}, text("Datum"), text("Type"), text("Referentie"), text("Regel"),
      text("Geboekt door"), text("Vastgelegd"), money("Begroting"), money("Inkomsten"), money("Realisatie"), money("Verplicht"))),
    element("tbody", {}, ...rows.map((e) => element("tr", { dataPositie: String(e.position), dataId: e.id },
      element("td", { dataVeld: "datum" }, e.effectiveDate),
      element("td", { dataVeld: "type" }, e.type),
      element("td", { dataVeld: "referentie" }, e.reference ?? ""),
      element("td", { dataVeld: "regel" }, e.subBudget === null ? "budget" : label(e.subBudget)),
      element("td", { dataVeld: "geboekt-door" }, e.postedBy),
      element("td", { dataVeld: "vastgelegd" }, element("time", { datetime: e.recordedAt }, instant(e.recordedAt))),
      amountCell("begroting", e.allocatedCents), amountCell("inkomsten", e.incomeCents),
      amountCell("realisatie", e.spentCents), amountCell("verplicht", e.committedCents)))));
  const previous = element("button", { type: "button", className: "vorige" }, "Vorige");
  const next = element("button", { type: "button", className: "volgende" }, "Volgende");
  previous.disabled = page <= 1;
  next.disabled = page >= pages;
  const go = (to) => showTrail(box, line, to).then(() => $(to < page ? ".vorige" : ".volgende", box).focus())
    .catch((error) => box.replaceChildren(element("p", { className: "fout", role: "alert" }, `Kon niet laden: ${error.message}`)));
  previous.addEventListener("click", () => go(page - 1));
  next.addEventListener("click", () => go(page + 1));
  box.replaceChildren(count ? table : element("p", { className: "leeg" }, caption),
    pages > 1 ? element("p", { className: "bladeren" }, previous, ` pagina ${page} van ${pages} `, next) : null);
  box.dataset.pagina = String(page);
  box.dataset.aantal = String(count);
  box.dataset.klaar = `${page}/${pages}`;
}

/** An instant as the Dutch write it, in the browser's time: 04-12-2026 20:12:37. */
function instant(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (n) => String(n).padStart(2, "0");
  return `${p(d.getDate())}-${p(d.getMonth() + 1)}-${d.getFullYear()} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

// --- verplichtingen: what the party committed on its budget lines in the year --------------

/** The party's commitments registered in `year`: registered, used by costs, released, open. */
async function showCommitments(party, year, current) {
  const section = $("#verplichtingen");
  const rows = await everyRow("/v1/commitments", { party, year });
  if (!current()) return;
  const box = $(".inhoud", section);
  const empty = $(":scope > .leeg", section);
  empty.textContent = `${partyName(party)} heeft in ${year} geen verplichtingen geregistreerd.`;
  empty.hidden = rows.length > 0;
  for (const button of section.querySelectorAll(".kop button")) button.disabled = rows.length === 0;
  if (!rows.length) {
    box.replaceChildren();
    return;
  }
  const sum = (field) => rows.reduce((total, r) => total + r[field], 0);
  const text = (name) => element("th", { scope: "col" }, name);
  const money = (name) => element("th", { scope: "col", className: "bedrag" }, name);
  box.replaceChildren(element("table", {},
    element("caption", {}, `Verplichtingen ${partyLabel(party)}, aangegaan in ${year}`),
    element("thead", {}, element("tr", {}, text("Verplichting"), text("Budget"), text("Categorie"),
      money("Geregistreerd"), money("Gebruikt"), money("Vrijgevallen"), money("Open"), text("Stand"))),
    element("tbody", {}, ...rows.map((r) => element("tr",
      { dataVerplichting: r.commitmentId, dataBudget: r.budget, dataSub: r.subBudget ?? "" },
      element("th", { scope: "row" }, r.commitmentId),
      element("td", { dataVeld: "budget" }, label(r.budget) + (r.subBudget === null ? "" : ` · ${label(r.subBudget)}`)),
      element("td", { dataVeld: "categorie" }, label(r.category)),
      amountCell("geregistreerd", r.registeredCents), amountCell("gebruikt", r.usedCents),
      amountCell("vrijgevallen", r.releasedCents), amountCell("open", r.openCents),
      element("td", { dataVeld: "stand" }, r.openCents ? "open" : "afgewikkeld")))),
    element("tfoot", {}, element("tr", {}, element("th", { scope: "row" }, "Totaal"), element("td"), element("td"),
      amountCell("geregistreerd", sum("registeredCents")), amountCell("gebruikt", sum("usedCents")),
      amountCell("vrijgevallen", sum("releasedCents")), amountCell("open", sum("openCents")), element("td")))));
}

// --- the year's status: closed or still open -------------------------------------------------

/**
 * Whether the chosen budget year is closed, as the party read's `closedYears` says: while
 * a YearClosed stands (none or no later YearReopened undid it; projections/queries.py, from
 * the pairs the projector keeps, a few rows). Not the balance rows' `status`: that is the
 * begroting's (voorlopig while a line's latest allocation is a concept) and says nothing
 * of the year being closed.
 */
async function showYearStatus(party, year, current) {
  const box = $("#jaarstatus");
  let status;
  try {
    const [row] = (await request("/v1/parties", { party })).results;
    status = row && row.closedYears.includes(Number(year)) ? "definitief" : "voorlopig";
  } catch (error) {
    if (!current()) return;
    box.dataset.status = "";
    box.replaceChildren(`Boekjaar ${year}: niet bekend of het is afgesloten (${error.message}).`);
    return;
  }
  if (!current()) return;
  const closed = status === "definitief";
  box.dataset.status = closed ? "afgesloten" : "open";
  const when = state.asOf ? ` Zo stond het op de peildatum ${peildatumText()}.` : "";
  box.replaceChildren(
    element("span", { className: closed ? "vlag afgesloten" : "vlag voorlopig" }, closed ? "afgesloten" : "open"), " ",
    closed
      ? `Boekjaar ${year} van ${partyName(party)} is afgesloten (definitief): er wordt niets meer in geboekt, tenzij het jaar wordt heropend.`
      : `Boekjaar ${year} van ${partyName(party)} is nog niet afgesloten (voorlopig): de cijfers kunnen nog veranderen.`,
    when);
}

/** The year's status as the party read says it (at the peildatum): afgesloten or open. */
function yearStatus(party, year) {
  return (party.closedYears || []).includes(year) ? "afgesloten" : "open";
}

// --- the peildatum: every read at one instant (asOf), or now -----------------------------------

/** The peildatum as the user wrote it, in the browser's time: 04-12-2026 20:12:37. */
function peildatumText() {
  return state.asOf ? instant(state.asOf) : "nu";
}

/** The instant of the peildatum field (the browser's time), as RFC 3339 UTC; null when empty. */
function peildatumValue() {
  const value = $("#peildatum").value;
  if (!value) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date.toISOString().replace(".000Z", "Z");
}

function showPeildatum() {
  const box = $("#peilstatus");
  box.dataset.peildatum = state.asOf || "";
  box.replaceChildren(state.asOf
    ? element("span", {}, element("strong", {}, `Peildatum ${peildatumText()}`),
      ": alle cijfers zoals de ledger ze op dat moment kende (later geboekt telt niet mee).")
    : element("span", {}, element("strong", {}, "Peildatum nu"), ": de laatste stand van de ledger."));
}

/** A new peildatum: read the parties again (their years and closed years are as of it too) and show the same party and year. */
async function choosePeildatum() {
  const asOf = peildatumValue();
  if (asOf === state.asOf) return;
  state.asOf = asOf;
  const [party, year] = [$("#partij").value, Number($("#jaar").value)];
  document.body.dataset.klaar = "";
  try {
    state.parties = await everyRow("/v1/parties", {});
  } catch (error) {
    showError(error);
    return;
  }
  fillParties();
  choose(party, year);
}

// --- charts: uPlot, vendored (vendor/README.md) ---------------------------------------------

/** A colour of the stylesheet (:root), so the charts keep to the page's palette. */
const ink = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

/** Whole euros, for an axis: € 1.200.000 and € -200.000. */
function euroWhole(cents) {
  const whole = Math.round(Math.abs(cents) / 100);
  return `€ ${cents < 0 && whole ? "-" : ""}${grouped(whole)}`;
}

function forgetCharts(section) {
  for (const { chart, observer } of state.charts.get(section) || []) {
    observer.disconnect();
    chart.destroy();
  }
  state.charts.set(section, []);
}

/**
 * A chart of amounts (cents) per year, drawn by uPlot into `box` as wide as the box.
 * `series`: [{label, values, kind: "staaf" | "lijn", colour, fill?, dash?, align?}]: bars
 * side by side by `align` (-1 left of the year, 1 right), lines with their points. A
 * line is drawn at zero, so a tekort lies visibly below it, and each of `marks` ({year,
 * text}) as a dashed upright line with its text. The canvas has no text for a screen
 * reader: every chart has its figures in a table beside it, which its label points to.
 */
function yearChart(section, box, years, series, marks = []) {
  const uPlot = window.uPlot;
  const axis = { stroke: ink("--inkt"), font: "12px system-ui, sans-serif", ticks: { stroke: ink("--grijs") } };
  const chart = new uPlot({
    width: Math.max(320, box.clientWidth || 640),
    height: 260,
    scales: {
      x: { time: false, range: (u, min, max) => [min - 0.5, max + 0.5] },
      y: { range: (u, min, max) => uPlot.rangeNum(Math.min(0, min), Math.max(0, max), 0.1, true) },
    },
    axes: [
      { ...axis, splits: () => years, values: (u, ticks) => ticks.map(String), grid: { show: false } },
      { ...axis, size: 104, values: (u, ticks) => ticks.map(euroWhole), grid: { stroke: "#e4e8ec", width: 1 } },
    ],
    series: [{ label: "Jaar" }, ...series.map((s) => s.kind === "staaf"
      ? { label: s.label, stroke: s.colour, fill: s.fill || s.colour, width: 1, fillTo: () => 0, points: { show: false },
          paths: uPlot.paths.bars({ size: [s.align ? 0.34 : 0.6, 72], align: s.align || 0 }) }
      : { label: s.label, stroke: s.colour, width: 2.5, dash: s.dash, points: { show: true, size: 8, width: 2, fill: "white" } })],
    legend: { live: false },
    cursor: { drag: { x: false, y: false, setScale: false } },
    hooks: { draw: [(u) => drawZeroAndMarks(u, marks), (u) => {
      // What the chart drew, for whoever checks it against the table beside it: its
      // years (one bar or point each) and the years its axis labels.
      box.dataset.jaren = u.data[0].join(",");
      box.dataset.as = (u.axes[0]._values || []).join(",");
    }] },
  }, [years, ...series.map((s) => s.values)], box);
  const observer = new ResizeObserver(() => {
    const width = Math.max(320, box.clientWidth);
    if (width !== chart.width) chart.setSize({ width, height: 260 });
  });
  observer.observe(box);
  state.charts.get(section).push({ chart, observer });
  return chart;
}

function drawZeroAndMarks(u, marks) {
  const ctx = u.ctx, ratio = window.uPlot.pxRatio, { left, top, width, height } = u.bbox;
  ctx.save();
  const zero = Math.round(u.valToPos(0, "y", true)) + 0.5;
  ctx.strokeStyle = ink("--inkt");
  ctx.lineWidth = ratio;
  ctx.beginPath();
  ctx.moveTo(left, zero);
  ctx.lineTo(left + width, zero);
  ctx.stroke();
  for (const { year, text } of marks) {
    const x = Math.round(u.valToPos(year, "x", true)) + 0.5;
    ctx.strokeStyle = ink("--rood");
    ctx.lineWidth = 2 * ratio;
    ctx.setLineDash([6 * ratio, 4 * ratio]);
    ctx.beginPath();
    ctx.moveTo(x, top);
    ctx.lineTo(x, top + height);
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = ink("--inkt");
    ctx.font = `600 ${13 * ratio}px system-ui, sans-serif`;
    ctx.textBaseline = "top";
    const right = x > left + width / 2;
    ctx.textAlign = right ? "right" : "left";
    ctx.fillText(text, x + (right ? -8 : 8) * ratio, top + 6 * ratio);
  }
  ctx.restore();
}

/** The chart as a PNG that stands alone: its title, what uPlot drew (axes included) and the legend. */
function chartPng(chart, title, series) {
  const ratio = window.uPlot.pxRatio, plot = chart.ctx.canvas, pad = 16 * ratio, line = 26 * ratio;
  const picture = document.createElement("canvas");
  picture.width = plot.width + 2 * pad;
  picture.height = plot.height + 2 * line + 2 * pad;
  const ctx = picture.getContext("2d");
  ctx.fillStyle = "white";
  ctx.fillRect(0, 0, picture.width, picture.height);
  ctx.fillStyle = ink("--inkt");
  ctx.textBaseline = "middle";
  ctx.font = `600 ${15 * ratio}px system-ui, sans-serif`;
  ctx.fillText(title, pad, pad + line / 2);
  ctx.drawImage(plot, pad, pad + line);
  ctx.font = `${13 * ratio}px system-ui, sans-serif`;
  let x = pad;
  const y = pad + line + plot.height + line / 2;
  for (const s of series) {
    ctx.lineWidth = (s.kind === "staaf" ? 1 : 2.5) * ratio;
    ctx.strokeStyle = s.colour;
    if (s.kind === "staaf") {
      ctx.fillStyle = s.fill || s.colour;
      ctx.fillRect(x, y - 6 * ratio, 12 * ratio, 12 * ratio);
      ctx.strokeRect(x, y - 6 * ratio, 12 * ratio, 12 * ratio);
      x += 18 * ratio;
    } else {
      ctx.setLineDash((s.dash || []).map((d) => d * ratio));
      ctx.beginPath();
      ctx.moveTo(x, y);
      ctx.lineTo(x + 26 * ratio, y);
      ctx.stroke();
      ctx.setLineDash([]);
      x += 32 * ratio;
    }
    ctx.fillStyle = ink("--inkt");
    ctx.fillText(s.label, x, y);
    x += ctx.measureText(s.label).width + 22 * ratio;
  }
  return new Promise((resolve, reject) => picture.toBlob(
    (blob) => (blob ? resolve(blob) : reject(new Error("de grafiek kon geen afbeelding worden"))), "image/png"));
}

/** An amount cell with a word beside the colour when it is short: "tekort". */
function deficitCell(field, cents) {
  const cell = amountCell(field, cents);
  if (cents < 0) cell.prepend(element("span", { className: "vlag" }, "tekort"), " ");
  return cell;
}

function heads(...names) {
  return element("thead", {}, element("tr", {}, ...names.map((name, i) =>
    element("th", { className: i ? "bedrag" : "", scope: "col" }, name))));
}

// --- the meerjarenraming: a budget over the years --------------------------------------------

/** What the meerjarenraming draws of each year's budget total: the begroting (primitive plus
 * amendments) inside an outline that adds the income, so the bar beside it (realisatie) reads
 * against what there was to spend; and the saldo and structural saldo as lines. */
const MEERJAREN_SERIES = () => [
  { value: (r) => r.allocatedCents + r.incomeCents, label: "Begroting + inkomsten", kind: "staaf", align: -1,
    colour: "#6b7885", fill: "#f4f6f8" },
  { value: (r) => r.allocatedCents, label: "Begroting", kind: "staaf", align: -1, colour: "#6b7885", fill: ink("--grijs") },
  { value: (r) => r.spentCents, label: "Realisatie", kind: "staaf", align: 1, colour: ink("--blauw") },
  { value: (r) => r.saldoCents, label: "Saldo", kind: "lijn", colour: ink("--oranje") },
  { value: (r) => r.structuralSaldoCents, label: "Structureel saldo", kind: "lijn", colour: ink("--rood"), dash: [7, 5] },
];

/** The party's budget totals over all its years in one read; the budget and years are chosen in the section. */
async function showMeerjaren(party, current) {
  const years = [...party.years].sort((a, b) => a - b);
  const rows = years.length
    ? await everyRow("/v1/balances", { party: party.code, fromYear: years[0], toYear: years[years.length - 1] }) : [];
  if (!current()) return;
  const totals = rows.filter((r) => r.subBudget === null);
  const budgets = [...new Set(totals.map((r) => r.budget))].sort((a, b) => label(a).localeCompare(label(b), "nl"));
  const before = state.meerjaren && state.meerjaren.party === party.code ? state.meerjaren : null;
  const budget = before && budgets.includes(before.budget) ? before.budget
    : budgets.includes("participatiebudget") ? "participatiebudget" : budgets[0];
  const own = [...new Set(totals.map((r) => r.year))].sort((a, b) => a - b);
  state.meerjaren = {
    party: party.code, totals, budget,
    from: before && own.includes(before.from) ? before.from : own[0],
    to: before && own.includes(before.to) ? before.to : own[own.length - 1],
  };
  const options = (values, name) => values.map((v) => element("option", { value: String(v) }, name(v)));
  $("#mjr-budget").replaceChildren(...options(budgets, label));
  $("#mjr-van").replaceChildren(...options(own, String));
  $("#mjr-tot").replaceChildren(...options(own, String));
  drawMeerjaren();
}

/** Draw the chosen budget and years from what showMeerjaren read (no read of its own). */
function drawMeerjaren() {
  const section = $("#meerjarenraming");
  const chosen = state.meerjaren;
  forgetCharts("meerjarenraming");
  const box = $(".inhoud", section);
  box.replaceChildren();
  const empty = !chosen.budget;
  $(":scope > .leeg", section).hidden = !empty;
  $(".keuzes", section).hidden = empty;
  for (const button of section.querySelectorAll(".kop button")) button.disabled = empty;
  $(".budgetnaam", section).textContent = empty ? "" : `${label(chosen.budget)} ${chosen.from}–${chosen.to}`;
  if (empty) {
    section.dataset.klaar = `${chosen.party}/-`;
    return;
  }
  $("#mjr-budget").value = chosen.budget;
  $("#mjr-van").value = String(chosen.from);
  $("#mjr-tot").value = String(chosen.to);
  const rows = chosen.totals.filter((r) => r.budget === chosen.budget && r.year >= chosen.from && r.year <= chosen.to)
    .sort((a, b) => a.year - b.year);
  const years = rows.map((r) => r.year);
  const series = MEERJAREN_SERIES().map((s) => ({ ...s, values: rows.map(s.value) }));
  const title = `Meerjarenraming ${label(chosen.budget)}, ${partyLabel(chosen.party)}, ${chosen.from}–${chosen.to}`;
  const plot = element("div", { className: "grafiek", role: "img",
    "aria-label": `${title}: begroting (met inkomsten) en realisatie als staven, saldo en structureel saldo als lijnen. `
      + "De cijfers staan in de tabel eronder." });
  box.append(element("figure", { className: "meerjaren", dataBudget: chosen.budget },
    plot,
    element("table", {},
      element("caption", {}, title),
      heads("Jaar (status)", "Primitief", "Wijzigingen", "Begroting", "Inkomsten", "Realisatie", "Saldo", "Structureel saldo", "Status begroting"),
      element("tbody", {}, ...rows.map((r) => element("tr", { dataJaar: String(r.year) },
        element("th", { scope: "row" }, String(r.year), " ", yearTag(chosen.party, r.year)),
        amountCell("primitief", r.primitiveCents), amountCell("wijzigingen", r.amendmentsCents),
        amountCell("begroting", r.allocatedCents), amountCell("inkomsten", r.incomeCents),
        amountCell("realisatie", r.spentCents), deficitCell("saldo", r.saldoCents),
        deficitCell("structureel", r.structuralSaldoCents),
        element("td", { className: "bedrag", dataVeld: "status" },
          r.status === "voorlopig" ? element("span", { className: "vlag voorlopig" }, "voorlopig") : r.status)))))));
  const chart = yearChart("meerjarenraming", plot, years, series);
  chosen.picture = () => chartPng(chart, title, series);
  section.dataset.klaar = `${chosen.party}/${chosen.budget}/${chosen.from}-${chosen.to}`;
}

/** The year's own status (afgesloten or open, at the peildatum), beside the begroting's. */
function yearTag(code, year) {
  const party = state.parties.find((p) => p.code === code);
  const status = party ? yearStatus(party, year) : "";
  return element("span", { className: status === "afgesloten" ? "vlag afgesloten" : "jaartekst", dataVeld: "jaarstatus" }, status);
}

/** A budget or a year chosen in the section: a first year after the last moves the other along. */
function chooseMeerjaren(event) {
  const chosen = state.meerjaren;
  if (!chosen) return;
  chosen.budget = $("#mjr-budget").value;
  let [from, to] = [Number($("#mjr-van").value), Number($("#mjr-tot").value)];
  if (from > to) [from, to] = event.target.id === "mjr-van" ? [from, from] : [to, to];
  Object.assign(chosen, { from, to });
  drawMeerjaren();
}

// --- reserves: the runway, year by year ----------------------------------------------------------

async function showReserves(party, current) {
  const section = $("#reserves");
  const reserves = await everyRow("/v1/reserves", { party });
  const runways = await Promise.all(reserves.map((r) =>
    request(`/v1/reserves/${encodeURIComponent(party)}/${encodeURIComponent(r.reserve)}/runway`)));
  if (!current()) return;
  forgetCharts("reserves");
  const box = $(".grafieken", section);
  box.replaceChildren();
  reserves.forEach(({ reserve, purpose }, i) => {
    const { years, emptyAt } = runways[i];
    const span = years.length ? `${years[0].year}–${years[years.length - 1].year}` : "";
    const title = `${label(reserve)}, ${partyLabel(party)}, ${span}`;
    const plot = element("div", { className: "grafiek", role: "img",
      "aria-label": `${title}: saldo aan het eind van elk jaar` + (emptyAt === null ? "" : `, leeg in ${emptyAt}`)
        + ". De cijfers staan in de tabel eronder." });
    const button = element("button", { type: "button", className: "afbeelding" }, "Download grafiek (PNG)");
    const figure = element("figure", { className: "reserve", dataReserve: reserve, dataLeegIn: emptyAt === null ? "" : String(emptyAt) },
      element("figcaption", {}, element("strong", {}, label(reserve)), purpose ? ` · ${purpose}` : "", " ",
        emptyAt === null
          ? element("span", { className: "looptijd" }, `niet leeg t/m ${years.length ? years[years.length - 1].year : "nu"}`)
          : element("span", { className: "vlag looptijd" }, `leeg in ${emptyAt}`),
        " ", button),
      plot,
      element("table", {},
        heads("Jaar", "Begin", "Toevoeging", "Onttrekking", "Eind"),
        element("tbody", {}, ...years.map((y) => {
          const year = element("th", { scope: "row" }, String(y.year));
          if (y.year === emptyAt) year.append(" ", element("span", { className: "vlag" }, "leeg"));
          return element("tr", { dataJaar: String(y.year), className: y.year === emptyAt ? "leeg-jaar" : "" },
            year, amountCell("begin", y.openingCents), amountCell("toevoeging", y.addedCents),
            amountCell("onttrekking", y.withdrawnCents), amountCell("eind", y.closingCents));
        }))));
    box.append(figure);
    const series = [{ label: "Saldo eind jaar", kind: "staaf", colour: ink("--blauw"), values: years.map((y) => y.closingCents) }];
    const chart = yearChart("reserves", plot, years.map((y) => y.year), series,
      emptyAt === null ? [] : [{ year: emptyAt, text: `leeg in ${emptyAt}` }]);
    button.addEventListener("click", () => chartPng(chart, `Looptijd ${title}`, series)
      .then((png) => save(png, `reserve-${party}-${reserve}.png`)).catch(showError));
  });
  $(":scope > .leeg", section).hidden = reserves.length > 0;
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
      // The policy of the year's key (the default), asked only when there is a key to ask it of.
      const policy = solidariteit.shares.length ? (await request(path, { year })).policy : null;
      return { organisation, solidariteit, profijt, policy };
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

function splitBlock({ organisation, solidariteit, profijt, policy, missing }, party, year) {
  const block = element("div", { className: "verdeling", dataOrganisatie: organisation.code },
    element("h3", {}, partyLabel(organisation.code)));
  if (missing) {
    block.append(element("p", { className: "leeg" }, `Geen verdeelsleutel voor ${year}: ${missing}.`));
    return block;
  }
  if (!solidariteit.shares.length) {  // no key and nothing that needs one
    block.append(element("p", { className: "leeg" }, `Niets te verdelen in ${year}; er is geen verdeelsleutel vastgesteld.`));
    return block;
  }
  const path = `/v1/organisations/${organisation.code}/cost-split`;
  const button = element("button", { type: "button", className: "download" }, "Download Excel");
  button.addEventListener("click", () => download(path, { year, policy },
    `kostenverdeling-${organisation.code}-${year}.xlsx`).catch(showError));
  const dutch = element("button", { type: "button", className: "download csv-nl" }, "Download CSV (Excel-NL)");
  dutch.addEventListener("click", () => download(path, { year, policy },
    `kostenverdeling-${organisation.code}-${year}-nl.csv`, CSV_NL).catch(showError));
  block.append(element("p", {},
    `Te verdelen ${euro(solidariteit.totalCents)}; verdeelsleutel naar ${label(solidariteit.basis)}. `, button, " ", dutch));
  const byParty = new Map(profijt.shares.map((s) => [s.party, s]));
  const scale = Math.max(1, ...solidariteit.shares.concat(profijt.shares).map((s) => Math.abs(s.amountCents)));
  const rows = solidariteit.shares.map((s) => {
    const p = byParty.get(s.party);
    return element("tr", { className: s.party === party ? "eigen" : "", dataPartij: s.party },
      element("th", { scope: "row" }, `${partyLabel(s.party)}`),
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
  if (solidariteit.shares.every((s) => "settlementCents" in s)) {
    block.append(settlementTable(organisation, solidariteit, profijt, policy, party, year));
  }
  if (profijt.units && profijt.units.length) {
    block.append(element("p", { className: "onderdelen" }, "Per onderdeel: ",
      ...profijt.units.map((u, i) => element("span", { dataOnderdeel: u.unit },
        `${i ? "; " : ""}${label(u.unit)} ${euro(u.totalCents)} ${u.totalCents < 0 ? "(overschot)" : "(tekort)"}`))));
  }
  return block;
}

/** Voorschotten en afrekening: what each member was invoiced and paid for the year, and
 * what settles its share under each policy (positive: it pays more; negative: it gets back). */
function settlementTable(organisation, solidariteit, profijt, policy, party, year) {
  const byParty = new Map(profijt.shares.map((s) => [s.party, s]));
  const settlement = (field, cents) => {
    const cell = amountCell(field, cents);
    if (cents > 0) cell.prepend(element("span", { className: "vlag bijbetalen" }, "bijbetalen"), " ");
    if (cents < 0) cell.prepend(element("span", { className: "vlag terug" }, "terug"), " ");
    return cell;
  };
  const sum = (shares, field) => shares.reduce((total, s) => total + s[field], 0);
  const keyed = (name) => (name === policy ? `${label(name)} (sleutel)` : label(name));
  const caption = `Voorschotten en afrekening ${organisation.code} ${year}`;
  const invoiced = sum(solidariteit.shares, "invoicedCents"), paid = sum(solidariteit.shares, "paidCents");
  return element("div", { className: "afrekening" },
    element("h4", {}, "Voorschotten en afrekening"),
    element("p", { className: "toelichting" }, invoiced || paid
      ? "Afrekening is het aandeel min wat al betaald is: positief moet de gemeente bijbetalen, negatief krijgt zij terug."
      : `Nog geen voorschotten gefactureerd of betaald voor ${year}: de afrekening is het hele aandeel.`),
    element("table", {},
      element("caption", {}, caption),
      heads("Gemeente", "Gefactureerd", "Betaald", `Afrekening ${keyed("solidariteit")}`, `Afrekening ${keyed("profijt")}`),
      element("tbody", {}, ...solidariteit.shares.map((s) => {
        const p = byParty.get(s.party);
        return element("tr", { className: s.party === party ? "eigen" : "", dataPartij: s.party },
          element("th", { scope: "row" }, `${partyLabel(s.party)}`),
          amountCell("gefactureerd", s.invoicedCents), amountCell("betaald", s.paidCents),
          settlement("afrekening-solidariteit", s.settlementCents), settlement("afrekening-profijt", p.settlementCents));
      })),
      element("tfoot", {}, element("tr", {}, element("th", { scope: "row" }, "Totaal"),
        amountCell("gefactureerd", invoiced), amountCell("betaald", paid),
        amountCell("afrekening-solidariteit", sum(solidariteit.shares, "settlementCents")),
        amountCell("afrekening-profijt", sum(profijt.shares, "settlementCents"))))));
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

// --- uploading a spreadsheet: a dry run first, then the post ------------------------------

/** Post the chosen file to /v1/events (with ?dryRun=true: checked, nothing stored); the
 * answer's status and body, a refusal as much as an acceptance. */
async function postFile(file, dryRun) {
  const url = new URL("/v1/events", location.origin);
  if (dryRun) url.searchParams.set("dryRun", "true");
  const type = file.name.toLowerCase().endsWith(".xlsx") ? XLSX : CSV;
  const response = await fetch(url, {
    method: "POST", body: file, headers: { Authorization: `Bearer ${state.token}`, "Content-Type": type },
  });
  const body = await response.json().catch(() => ({}));
  if (response.status === 401) signOut(refusedToken(body));
  return { status: response.status, body };
}

/** Every refused row of a problem: its row, column and reason (a bad cell), or its rule. */
function refusals(problem) {
  const cells = (problem.invalidParams || []).map((p) => ({ row: p.row, column: p.column || "", reason: p.reason }));
  const rules = (problem.errors || []).map((e) => ({ row: e.row, column: "", reason: e.detail || e.title || "" }));
  return [...cells, ...rules];
}

function showUpload(text, rows = []) {
  $("#uploaduitkomst").textContent = text;
  const table = $("#weigeringen");
  $("tbody", table).replaceChildren(...rows.map((r) => element("tr", { dataRegel: String(r.row ?? "") },
    element("td", { className: "getal" }, r.row === undefined ? "" : String(r.row)),
    element("td", {}, r.column), element("td", {}, r.reason))));
  table.hidden = rows.length === 0;
}

async function upload(dryRun) {
  const file = $("#uploadbestand").files[0];
  const post = $("#boeken");
  post.disabled = true;
  document.body.dataset.upload = "";
  if (!file) {
    showUpload("Kies eerst een bestand.");
    return;
  }
  showUpload(dryRun ? "Bezig met controleren..." : "Bezig met boeken...");
  const { status, body } = await postFile(file, dryRun);
  if (dryRun && status === 200) {
    showUpload(`Alle ${body.events} regels kloppen; ${body.wouldStore} nieuw, ${body.alreadyStored} al eerder geboekt. `
      + "Er is nog niets geboekt.");
    post.disabled = body.wouldStore === 0;
  } else if (status === 200 || status === 201) {
    showUpload(`Geboekt: ${body.events.length} gebeurtenissen${status === 200 ? " (alle al eerder geboekt)" : ""}.`);
    choose($("#partij").value, Number($("#jaar").value));
  } else {
    const rows = refusals(body);
    showUpload(`Geweigerd, er is niets geboekt: ${body.detail || `HTTP ${status}`}`, rows);
  }
  document.body.dataset.upload = dryRun ? "gecontroleerd" : "geboekt";
}

// --- one client's events, by the pseudonym the ledger computes of its clientRef --------------

async function findClient() {
  const party = $("#partij").value;
  const clientRef = $("#clientref").value.trim();
  const table = $("#clientboekingen");
  table.hidden = true;
  $("#clientuitkomst").textContent = "Bezig met zoeken...";
  let rows;
  try {
    rows = await everyEvent({ party, clientRef });
  } catch (error) {
    $("#clientuitkomst").textContent = `Opzoeken lukte niet: ${error.message}`;
    return;
  }
  $("#clientuitkomst").textContent = rows.length
    ? `${rows.length} boekingen van deze cliënt van ${partyName(party)}.`
    : `Geen boekingen van deze cliënt van ${partyName(party)}: nooit geboekt, of gewist (ledger erase-client).`;
  $("tbody", table).replaceChildren(...rows.map((e) => element("tr", { dataId: e.id },
    element("td", { className: "getal" }, String(e.position)), element("td", {}, e.effectiveDate),
    element("td", {}, e.type), element("td", {}, e.data.clientRef), element("td", {}, e.postedBy),
    element("td", {}, e.recordedAt))));
  table.hidden = rows.length === 0;
  document.body.dataset.client = String(rows.length);
}

/** Every event of the log a read matches, page by page (the log pages by position). */
async function everyEvent(params) {
  const rows = [];
  for (let after = 0; ;) {
    const body = await request("/v1/events", { ...params, after, limit: 1000 });
    rows.push(...body.results);
    if (!body.next) return rows;
    after = body.results[body.results.length - 1].position;
  }
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
  fillParties();
  const [party, year] = location.hash.slice(1).split("/");
  choose(party, Number(year));
}

/** The party select: gemeenten, then organisations, each "Naam (CODE)". */
function fillParties() {
  const select = $("#partij");
  select.replaceChildren();
  for (const [kind, title] of [["gemeente", "Gemeenten"], ["organisation", "Samenwerkingsverbanden"]]) {
    const group = element("optgroup", { label: title });
    const parties = state.parties.filter((party) => party.kind === kind);
    for (const p of parties.sort((a, b) => a.name.localeCompare(b.name, "nl"))) {
      group.append(element("option", { value: p.code }, partyLabel(p.code)));
    }
    if (group.children.length) select.append(group);
  }
}

/**
 * The party to land on when none is asked for: the token's own. A gemeente's or a
 * controller's token reads its own party and the organisations it is a member of, so
 * one gemeente among the readable parties is its own (an organisation's token reads
 * that organisation alone). An admin or auditor reads every party: the first one.
 */
function landingParty() {
  const gemeenten = state.parties.filter((p) => p.kind === "gemeente");
  const organisations = state.parties.filter((p) => p.kind === "organisation");
  if (gemeenten.length === 1) return gemeenten[0];
  if (!gemeenten.length && organisations.length === 1) return organisations[0];
  return state.parties[0];
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
  const party = state.parties.find((p) => p.code === code) || landingParty();
  if (!party) {
    showError(new Error(state.asOf
      ? `dit token mag op de peildatum ${peildatumText()} geen enkele partij lezen`
      : "dit token mag geen enkele partij lezen"));
    document.body.dataset.klaar = "-";
    return;
  }
  const years = yearsOf(party);
  // The latest year the party has figures of itself (a member's organisation may have later ones).
  const own = [...party.years].sort((a, b) => a - b);
  const chosen = years.includes(year) ? year : own.length ? own[own.length - 1] : years[years.length - 1];
  $("#partij").value = party.code;
  $("#jaar").replaceChildren(...years.map((y) => element("option", { value: String(y), dataStatus: yearStatus(party, y) },
    `${y} · ${yearStatus(party, y)}${party.years.includes(y) ? "" : " (geen eigen cijfers)"}`)));
  $("#jaar").value = String(chosen);
  history.replaceState(null, "", `#${party.code}/${chosen}`);
  show(party, chosen, years);
}

async function show(party, year, years) {
  const generation = ++state.generation;
  const current = () => generation === state.generation;
  document.body.dataset.klaar = "";
  $("#laadfout").hidden = true;
  showPeildatum();
  for (const span of document.querySelectorAll(".jaar")) span.textContent = String(year);
  const sections = [
    ["#jaarstatus", showYearStatus(party.code, year, current)],
    ["#budgetten", showBalances(party.code, year, current)],
    ["#verplichtingen", showCommitments(party.code, year, current)],
    ["#meerjarenraming", showMeerjaren(party, current)],
    ["#reserves", showReserves(party.code, current)],
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
  $("#peildatum").addEventListener("change", () => choosePeildatum());
  $("#peildatumnu").addEventListener("click", () => {
    $("#peildatum").value = "";
    choosePeildatum();
  });
  $("#partij").addEventListener("change", () => choose($("#partij").value, Number($("#jaar").value)));
  $("#jaar").addEventListener("change", () => choose($("#partij").value, Number($("#jaar").value)));
  for (const select of ["#mjr-budget", "#mjr-van", "#mjr-tot"]) $(select).addEventListener("change", chooseMeerjaren);
  for (const [kind, accept] of [["excel", XLSX], ["csv", CSV], ["csv-nl", CSV_NL]]) {
    $(`#meerjarenraming button.${kind}`).addEventListener("click", () => {
      const { party, budget, from, to } = state.meerjaren;
      download("/v1/balances", { party, budget, fromYear: from, toYear: to },
        `meerjarenraming-${party}-${budget}-${from}-${to}${kind === "csv-nl" ? "-nl" : ""}.${kind === "excel" ? "xlsx" : "csv"}`,
        accept).catch(showError);
    });
  }
  $("#meerjarenraming button.afbeelding").addEventListener("click", () => {
    const { party, budget, from, to, picture } = state.meerjaren;
    picture().then((png) => save(png, `meerjarenraming-${party}-${budget}-${from}-${to}.png`)).catch(showError);
  });
  for (const button of document.querySelectorAll("button.download[data-lijst]")) {
    button.addEventListener("click", () => {
      const [party, year] = [$("#partij").value, $("#jaar").value];
      const { lijst: list, formaat: kind = "xlsx" } = button.dataset;
      const path = { balances: "/v1/balances", commitments: "/v1/commitments", reserves: "/v1/reserves", kpis: "/v1/kpis" }[list];
      const suffix = kind === "csv-nl" ? "-nl" : "";
      download(path, { party, year }, `${list}-${party}-${year}${suffix}.${EXTENSION[kind]}`, ACCEPT[kind]).catch(showError);
    });
  }
  $("#uploadformulier").addEventListener("submit", (event) => {
    event.preventDefault();
    upload(true).catch(showError);
  });
  $("#uploadbestand").addEventListener("change", () => upload(true).catch(showError));
  $("#clientformulier").addEventListener("submit", (event) => {
    event.preventDefault();
    findClient();
  });
  $("#boeken").addEventListener("click", () => upload(false).catch(showError));
  if (state.token) signIn(state.token);
});
