// CleverTap's official Node library (clevertap@1.3.0) against tapink's engine API, with only the endpoint
// changed. Usage: node clevertap_check.js BASE_URL ACCOUNT_ID PASSCODE
// Prints one line per check and, last, "N passed, M failed"; exits non-zero when a check fails.
//
// The library builds https://{region}.api.clevertap.com/1 in the CleverTapAPI constructor and keeps it in
// `api.apiEndpoint` (lib/clevertap-api.js); every call is `${apiEndpoint}/${endpoint}`, so setting that one
// property is the whole change.
//
// `targets` validates CREATE and ESTIMATE payloads on the client as push campaigns (lib/clevertap.js
// `_validate`): `name`, exactly one of `where`/`segment`, `content.title` and `content.body`, and `devices`.
// The engine accepts and ignores `devices` and `content.title` for a webhook campaign, so the library's
// payload only adds `target_mode: "webhook"` and `webhook_endpoint_name`. The webhook itself is made first
// with a plain POST to tapink's own /tapink/v1/webhooks (CleverTap has no API for webhooks).
"use strict";

const assert = require("node:assert/strict");
const CleverTap = require("clevertap");

const [baseUrl, accountId, passcode] = process.argv.slice(2);
if (!baseUrl || !accountId || !passcode) {
  console.error("usage: node clevertap_check.js BASE_URL ACCOUNT_ID PASSCODE");
  process.exit(2);
}

const clevertap = CleverTap.init(accountId, passcode, CleverTap.REGIONS.EUROPE);
clevertap.api.apiEndpoint = `${baseUrl.replace(/\/$/, "")}/1`;

const NOVEMBER = { event_name: "Charged", from: 20261101, to: 20261130 };
const users = [
  { identity: "ada-1815", Name: "Ada Lovelace", Email: "ada+news@example.com", Phone: "+14155550100" },
  { identity: "grace-1906", Name: "Grace Hopper", Email: "grace@example.com", Phone: "+12125550101" },
  { identity: "edsger-1930", Name: "Edsger Dijkstra", Email: "edsger@example.com", Phone: "+31205550102" },
  { identity: "barbara-1939", Name: "Barbara Liskov", Email: "barbara@example.com" },
];
const records = [];
users.forEach((user, i) => {
  const { identity, ...profileData } = user;
  records.push({ type: "profile", identity, ts: 1793523600, profileData: { ...profileData, Tier: i % 2 ? "silver" : "gold" } });
  for (let n = 0; n <= i; n++) {
    records.push({
      type: "event", identity, ts: 1793610000 + n * 3600, evtName: "Charged",
      evtData: { Amount: 10 * (n + 1), Items: [{ Category: n % 2 ? "toys" : "books", Quantity: 1 }] },
    });
  }
});
const EVENTS = 1 + 2 + 3 + 4;

// The engine's clock (tests/support/engine.rs): 2026-11-27 09:00 UTC.
const TODAY = 20261127;

/// A webhook campaign as the library's `targets` wants it: push fields it requires, and the webhook's.
function webhookCampaign(name, extra) {
  return {
    name,
    target_mode: "webhook",
    webhook_endpoint_name: "Inkit",
    where: { common_profile_properties: { profile_fields: [{ name: "Tier", operator: "equals", value: "gold" }] } },
    when: "now",
    content: { title: "required by the library, ignored", body: '{"name": "{{ Profile.name }}"}' },
    devices: ["android", "ios"],
    ...extra,
  };
}

const results = [];
async function check(name, body) {
  try {
    await body();
    results.push(true);
    console.log(`ok - ${name}`);
  } catch (error) {
    results.push(false);
    console.log(`FAIL - ${name}: ${error && error.message ? error.message : error}`);
  }
}

async function main() {
  let adaObjectId = null;

  await check("upload: every record processed", async () => {
    const res = await clevertap.upload(records);
    assert.equal(res.status, "success", JSON.stringify(res));
    assert.equal(res.processed, records.length);
    assert.deepEqual(res.unprocessed, []);
  });

  await check("upload: a bad email comes back in unprocessed with code 515", async () => {
    const res = await clevertap.upload([
      { type: "profile", identity: "bad-email", profileData: { Email: "not an email" } },
      { type: "event", identity: "ada-1815", ts: 1793700000, evtName: "Product Viewed", evtData: {} },
    ]);
    assert.equal(res.status, "partial", JSON.stringify(res));
    assert.equal(res.processed, 1);
    assert.equal(res.unprocessed[0].code, 515);
  });

  await check("upload: more than the library's 100 records a call, in batches", async () => {
    const many = [];
    for (let i = 0; i < 150; i++) {
      many.push({ type: "event", identity: "grace-1906", ts: 1790000000 + i, evtName: "Page Viewed", evtData: { i } });
    }
    const res = await clevertap.upload(many);
    assert.ok(Array.isArray(res) && res.length === 2, JSON.stringify(res).slice(0, 200));
    assert.deepEqual(res.map((r) => r.processed), [100, 50]);
  });

  await check("profile by email, sent unencoded with a +", async () => {
    const res = await clevertap.profile({ email: "ada+news@example.com" });
    assert.equal(res.status, "success", JSON.stringify(res));
    assert.equal(res.record.name, "Ada Lovelace");
    assert.equal(res.record.identity, "ada-1815");
    assert.equal(res.record.events.Charged.count, 1);
    adaObjectId = res.record.objectId;
    assert.ok(adaObjectId, "an objectId");
  });

  await check("profile by identity and by objectId", async () => {
    const byIdentity = await clevertap.profile({ identity: "grace-1906" });
    assert.equal(byIdentity.status, "success", JSON.stringify(byIdentity));
    assert.equal(byIdentity.record.email, "grace@example.com");
    const byObjectId = await clevertap.profile({ objectId: adaObjectId });
    assert.equal(byObjectId.record.identity, "ada-1815");
  });

  await check("profiles: every user, one per page", async () => {
    const res = await clevertap.profiles({}, { batchSize: 1 });
    assert.deepEqual(res.map((r) => r.identity), ["ada-1815", "grace-1906", "edsger-1930", "barbara-1939"]);
  });

  await check("profiles: a segment over several pages", async () => {
    const gold = {
      ...NOVEMBER,
      common_profile_properties: { profile_fields: [{ name: "Tier", operator: "equals", value: "gold" }] },
    };
    const res = await clevertap.profiles(gold, { batchSize: 1 });
    assert.deepEqual(res.map((r) => r.identity), ["ada-1815", "edsger-1930"]);
  });

  await check("events: every Charged event over several pages", async () => {
    const res = await clevertap.events(NOVEMBER, { batchSize: 3 });
    assert.equal(res.length, EVENTS);
    assert.ok(res.every((e) => e.event_props.Amount > 0 && e.identity && e.ts), JSON.stringify(res[0]));
  });

  await check("events: with an event property filter on Items (legacy props)", async () => {
    const books = { ...NOVEMBER, props: [{ name: "Category", operator: "equals", value: "books" }] };
    const res = await clevertap.events(books, { batchSize: 2 });
    assert.equal(res.length, 1 + 1 + 2 + 2);
  });

  await check("getProfilesCount", async () => {
    const res = await clevertap.getProfilesCount(NOVEMBER);
    assert.equal(res.status, "success", JSON.stringify(res));
    assert.equal(res.count, users.length);
  });

  await check("getEventsCount", async () => {
    const res = await clevertap.getEventsCount(NOVEMBER);
    assert.equal(res.status, "success", JSON.stringify(res));
    assert.equal(res.count, EVENTS);
  });

  await check("a query error comes back in CleverTap's error shape", async () => {
    const res = await clevertap.getEventsCount({ ...NOVEMBER, event_properties: [{ name: "Amount", operator: "like" }] });
    assert.equal(res.status, "fail", JSON.stringify(res));
    assert.equal(res.code, 400);
    assert.match(res.error, /^event_properties\[0\]\.operator: unknown operator/);
  });

  await check("a webhook made with tapink's own API (CleverTap's is the dashboard)", async () => {
    const res = await fetch(`${baseUrl.replace(/\/$/, "")}/tapink/v1/webhooks`, {
      method: "POST",
      headers: { "X-CleverTap-Account-Id": accountId, "X-CleverTap-Passcode": passcode, "Content-Type": "application/json" },
      body: JSON.stringify({ name: "Inkit", method: "POST", url: "http://127.0.0.1:9/v1/generate", skip_check: true }),
    });
    const body = await res.json();
    assert.deepEqual(body, { status: "success", name: "Inkit" });
  });

  let sentId = null;
  await check("targets CREATE: a webhook campaign, answered with its id", async () => {
    const res = await clevertap.targets(clevertap.TARGET_CREATE, webhookCampaign("Node letter"));
    assert.equal(res.status, "success", JSON.stringify(res));
    assert.ok(Number.isInteger(res.id) && res.id > 0, JSON.stringify(res));
    sentId = res.id;
  });

  await check("targets ESTIMATE: the reach of the where, nothing created", async () => {
    const res = await clevertap.targets(clevertap.TARGET_ESTIMATE, webhookCampaign("Node estimate"));
    assert.equal(res.status, "success", JSON.stringify(res));
    assert.equal(res.estimate.qualified, 2, JSON.stringify(res));
    const list = await clevertap.targets(clevertap.TARGET_LIST, {});
    assert.deepEqual(list.targets.map((t) => t.name), ["Node letter"]);
  });

  let laterId = null;
  await check("targets RESULT: 409 while scheduled, figures once completed", async () => {
    const later = await clevertap.targets(
      clevertap.TARGET_CREATE,
      webhookCampaign("Node later", { when: "20261231 10:00", segment: "all", where: undefined }),
    );
    assert.equal(later.status, "success", JSON.stringify(later));
    laterId = later.id;
    const waiting = await clevertap.targets(clevertap.TARGET_RESULT, { id: laterId });
    assert.equal(waiting.status, "fail", JSON.stringify(waiting));
    assert.equal(waiting.code, 409);
    assert.match(waiting.error, /is Scheduled/);
    const done = await clevertap.targets(clevertap.TARGET_RESULT, { id: sentId });
    assert.equal(done.status, "success", JSON.stringify(done));
    assert.equal(done.campaign_status, "Completed");
    assert.equal(done.result.qualified, 2, JSON.stringify(done));
    assert.equal(done.result.sent, 2, JSON.stringify(done));
  });

  await check("targets LIST: campaigns scheduled between from and to", async () => {
    const today = await clevertap.targets(clevertap.TARGET_LIST, { from: TODAY, to: TODAY });
    assert.equal(today.status, "success", JSON.stringify(today));
    assert.deepEqual(today.targets.map((t) => [t.id, t.name, t.status]), [[sentId, "Node letter", "Completed"]]);
    const december = await clevertap.targets(clevertap.TARGET_LIST, { from: 20261201, to: 20261231 });
    assert.deepEqual(december.targets.map((t) => [t.id, t.scheduled_on]), [[laterId, "20261231 10:00"]]);
  });

  await check("targets STOP: stops a scheduled campaign; again is success; an unknown id fails", async () => {
    const res = await clevertap.targets(clevertap.TARGET_STOP, { id: laterId });
    assert.deepEqual(res, { status: "success" });
    const again = await clevertap.targets(clevertap.TARGET_STOP, { id: laterId });
    assert.deepEqual(again, { status: "success" });
    const result = await clevertap.targets(clevertap.TARGET_RESULT, { id: laterId });
    assert.equal(result.campaign_status, "Stopped", JSON.stringify(result));
    const unknown = await clevertap.targets(clevertap.TARGET_STOP, { id: 42 });
    assert.equal(unknown.status, "fail", JSON.stringify(unknown));
    assert.equal(unknown.code, 404);
  });

  await check("delete by identity and guid", async () => {
    const res = await clevertap.delete({ identity: ["barbara-1939"], guid: [adaObjectId] });
    assert.equal(res.status, "success", JSON.stringify(res));
    const gone = await clevertap.profile({ identity: "barbara-1939" });
    assert.equal(gone.status, "fail", JSON.stringify(gone));
    assert.equal(gone.code, 404);
    const count = await clevertap.getProfilesCount({});
    assert.equal(count.count, 2);
  });

  await check("wrong passcode is refused with 401", async () => {
    const intruder = CleverTap.init(accountId, "wrong", CleverTap.REGIONS.EUROPE);
    intruder.api.apiEndpoint = clevertap.api.apiEndpoint;
    const res = await intruder.getProfilesCount({});
    assert.equal(res.status, "fail", JSON.stringify(res));
    assert.equal(res.code, 401);
  });

  // Leave the users the Rust test expects: ada deleted above is back, barbara stays deleted.
  await check("upload after delete creates the user anew", async () => {
    const res = await clevertap.upload([{ type: "profile", identity: "ada-1815", profileData: { Name: "Ada" } }]);
    assert.equal(res.processed, 1, JSON.stringify(res));
    const ada = await clevertap.profile({ identity: "ada-1815" });
    assert.notEqual(ada.record.objectId, adaObjectId);
    assert.deepEqual(ada.record.events, {});
  });

  const passed = results.filter(Boolean).length;
  const failed = results.length - passed;
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

main().catch((error) => {
  console.log(`FAIL - the script itself: ${error && error.stack ? error.stack : error}`);
  process.exit(1);
});
