// Drives the console in headless Chromium (Debian's /usr/bin/chromium) with playwright-core, as an
// integration engineer would: the overview updates, a reading opens beside its Bundle, a dead letter
// opens and replays, an association is added from a dead letter (and a bad one is refused with a
// reason), the playground maps a good vendor payload and explains a bad one, the tabs work from the
// keyboard, and nothing is requested from anywhere but the bridge.
//
// node console.test.mjs <bridge base URL> <screenshot dir> <vendor payload file>
// Prints one line per check; exits 1 on the first failure.
import { chromium } from "playwright-core";
import { readFileSync, statSync } from "node:fs";

const [base, shots, vendorFile] = process.argv.slice(2);
const vendorPayload = readFileSync(vendorFile, "utf8");
const bridgeHost = new URL(base).host;

function check(condition, what) {
  if (!condition) throw new Error(`FAILED: ${what}`);
  console.log(`ok: ${what}`);
}

async function shot(page, name) {
  const path = `${shots}/${name}.png`;
  await page.screenshot({ path, fullPage: true });
  // A blank page compresses to a few kilobytes; one with tables, text and a chart does not.
  const size = statSync(path).size;
  check(size > 15000, `screenshot ${name} is not blank (${size} bytes)`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
let failed = false;
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const foreign = [];
  page.on("request", (request) => {
    const url = new URL(request.url());
    if (url.protocol !== "data:" && url.host !== bridgeHost) foreign.push(request.url());
  });
  const errors = [];
  page.on("pageerror", (error) => errors.push(error.message));

  await page.goto(`${base}/console`);
  check((await page.title()) === "fhirgate console", "the console opens");

  // Overview: counts that update, and a chart drawn from two samples or more.
  await page.waitForFunction(() => {
    const card = document.querySelector('[data-metric="Delivered"] .n');
    return card && Number(card.textContent) > 0;
  });
  const delivered = Number(await page.textContent('[data-metric="Delivered"] .n'));
  check(delivered > 0, `the overview counts delivered payloads (${delivered})`);
  await page.waitForFunction(() => {
    const path = document.querySelector('#chart path[data-series="delivered"]');
    return path && path.getAttribute("d").split("L").length >= 2;
  }, null, { timeout: 15000 });
  check(true, "the chart draws accepted and delivered over time");
  const transports = await page.$$eval("#transports tbody tr td:first-child", (tds) => tds.map((td) => td.textContent));
  check(transports.includes("http") && transports.includes("mllp"), `counts per transport (${transports})`);
  await shot(page, "overview");

  // Keyboard: arrow keys move between tabs.
  await page.focus("#tab-overview");
  await page.keyboard.press("ArrowRight");
  check((await page.getAttribute("#tab-flow", "aria-selected")) === "true", "ArrowRight selects the next tab");

  // Flow: the latest readings; one opens beside its Bundle.
  await page.waitForSelector("#recent tbody tr");
  const firstDelivered = page.locator("#recent tbody tr", { has: page.locator("td.fate-delivered") }).first();
  await firstDelivered.locator("button").click();
  await page.waitForSelector("#recent-detail:not([hidden])");
  const bundle = await page.textContent("#recent-bundle");
  const payload = await page.textContent("#recent-payload");
  check(bundle.includes('"transaction"') && bundle.includes("Observation"), "a reading opens with its transaction Bundle");
  check(payload.length > 20 && !payload.includes('"transaction"'), "beside the payload as the device sent it");
  await shot(page, "flow");

  // Dead letters: the simulator's unknown devices wait for an association.
  await page.click("#tab-dead");
  await page.waitForSelector("#dead-letters tbody tr");
  const dead = await page.$$eval("#dead-letters tbody tr", (rows) => rows.length);
  check(dead > 0, `dead letters are listed (${dead})`);
  const reason = await page.textContent("#dead-letters tbody tr td:nth-child(4)");
  check(reason.includes("association"), "with the reason");
  await page.locator("#dead-letters tbody tr").first().getByRole("button", { name: /^Open/ }).click();
  await page.waitForSelector("#dead-detail:not([hidden])");
  check((await page.textContent("#dead-payload")).includes("characteristic"), "a dead letter opens with its payload");
  await shot(page, "dead-letters");
  await page.locator("#dead-letters tbody tr").first().getByRole("button", { name: /^Replay/ }).click();
  await page.waitForFunction(() => /replayed 1 of 1/.test(document.getElementById("status").textContent));
  check(true, "a dead letter replays");

  // Associations: a bad one is refused with the reason; one made from a dead letter is added.
  await page.click("#tab-assoc");
  await page.fill("#assoc-json", '{"device": {}, "patient": {"system": "urn:oid:1.2.3"}}');
  await page.click("#assoc-form button[type=submit]");
  await page.waitForFunction(() => document.getElementById("assoc-result").textContent.length > 0);
  check((await page.textContent("#assoc-result")).length > 10, "an invalid association is refused with a reason");
  await page.click("#tab-dead");
  await page.waitForSelector("#dead-letters tbody tr");
  await page.locator("#dead-letters tbody tr").first().getByRole("button", { name: /^Associate/ }).click();
  check((await page.getAttribute("#tab-assoc", "aria-selected")) === "true", "Associate opens the form with the device");
  const draft = JSON.parse(await page.inputValue("#assoc-json"));
  draft.patient.value = "SIM-MRN-0099";
  await page.fill("#assoc-json", JSON.stringify(draft));
  await page.click("#assoc-form button[type=submit]");
  await page.waitForFunction(() => /association \d+ added/.test(document.getElementById("status").textContent));
  await page.waitForSelector("#associations tbody tr");
  check((await page.textContent("#associations tbody")).includes("SIM-MRN-0099"), "the association is listed");
  // Ending it now fills its end time, and the button goes.
  await page.locator("#associations tbody tr").first().getByRole("button", { name: /^End \d+ now/ }).click();
  // The status line is the overview's too (it refreshes): the row itself says the association ended.
  await page.waitForFunction(
    () =>
      (document.querySelector("#associations tbody tr td:nth-child(5)")?.textContent ?? "").length > 0 ||
      document.getElementById("assoc-result").textContent.length > 0
  );
  check((await page.textContent("#assoc-result")) === "", `ending is accepted: ${await page.textContent("#assoc-result")}`);
  const until = await page.locator("#associations tbody tr").first().locator("td").nth(4).textContent();
  check(!Number.isNaN(Date.parse(until)) && Date.parse(until) <= Date.now(), `the association ends now (until: ${until})`);
  check((await page.locator("#associations tbody tr").first().getByRole("button", { name: /^End/ }).count()) === 0, "an ended association cannot be ended again from the console");
  await shot(page, "associations");
  // Removing it takes the row away (the table is drawn again).
  await page.locator("#associations tbody tr").first().getByRole("button", { name: /^Remove/ }).click();
  await page.waitForFunction(() => document.querySelectorAll("#associations tbody tr").length === 0);
  check(true, "a removed association leaves the list");

  // Mappings: listed, and the playground with a good and a bad payload.
  await page.click("#tab-mappings");
  await page.waitForSelector("#mapping-list tbody tr");
  const listed = await page.textContent("#mapping-list");
  check(listed.includes("withings-getmeas.toml") && listed.includes("test"), "the loaded mappings are listed with their check");
  // Picking a mapping that does not fit the payload explains why, with no Bundle.
  await page.fill("#playground-payload", vendorPayload);
  await page.selectOption("#playground-mapping", "dexcom-egvs.toml");
  await page.click("#playground button[type=submit]");
  await page.waitForFunction(() => document.getElementById("playground-error").textContent.length > 0);
  check((await page.textContent("#playground-error")).includes("dexcom"), "a picked mapping that does not fit says so");
  await page.selectOption("#playground-mapping", "withings-getmeas.toml");
  await page.fill("#playground-payload", vendorPayload);
  await page.click("#playground button[type=submit]");
  await page.waitForSelector("#playground-result:not([hidden])");
  await page.waitForFunction(() => document.getElementById("playground-bundle").textContent.includes("transaction"));
  check((await page.textContent("#playground-trace")).includes("mapping:"), "the playground shows the trace");
  check((await page.textContent("#playground-error")) === "", "and no error for a good payload");
  await shot(page, "playground");
  await page.fill("#playground-payload", '{"nothing": "a mapping knows"}');
  await page.click("#playground button[type=submit]");
  await page.waitForFunction(() => document.getElementById("playground-error").textContent.length > 0);
  check((await page.textContent("#playground-bundle")) === "(no Bundle)", "a bad payload gets an error and no Bundle");

  check(foreign.length === 0, `no request beyond the bridge (${foreign.join(", ")})`);
  check(errors.length === 0, `no script errors (${errors.join("; ")})`);
} catch (error) {
  console.log(error.message);
  failed = true;
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
