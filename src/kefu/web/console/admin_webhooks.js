// Webhooks (admins): every endpoint with its health, the console's own ones added and
// removed here (the config file's stay as they are), and each one's delivery log: status,
// attempts, last error, with retry for a failed delivery and enable for a disabled endpoint.
// A new webhook's signing secret is shown once, right after it is created.

import { del, get, post } from "./api.js";
import { el } from "./dom.js";
import { fmtDateTime, fmtNumber, t } from "./i18n.js";
import { codeText } from "./why.js";
import { button, field, guard, pageShell } from "./admin_ui.js";

const PAGE = "webhooks";
const LOG_SIZE = 50;

export async function loadWebhooks() {
  const body = pageShell(PAGE, t("admin.wh_title"), t("admin.wh_hint"));
  const hooks = (await get("/api/v1/webhooks")).items;
  body.append(createForm(), el("div", { id: "wh-secret", class: "admin-secret", hidden: true, role: "status" }));
  if (!hooks.length) body.append(el("p", { class: "hint", text: t("admin.wh_none") }));
  else body.append(table(hooks));
}

function createForm() {
  const form = el("form", { class: "inline-form", id: "wh-form", autocomplete: "off" },
    field(t("admin.wh_name"), el("input", { name: "name", required: true, maxlength: "40", pattern: "[a-z][a-z0-9_]*", placeholder: "crm_sync", spellcheck: "false" })),
    field(t("admin.wh_url"), el("input", { name: "url", type: "url", required: true, maxlength: "2000", placeholder: "https://example.com/kefu", spellcheck: "false" }), "grow"),
    field(t("admin.wh_events"), el("input", { name: "events", required: true, placeholder: "ticket.*, customer.>", spellcheck: "false" })),
    el("button", { type: "submit", class: "btn primary", text: t("common.add") }));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(form).entries());
    const events = data.events.split(",").map((e) => e.trim()).filter(Boolean);
    guard(PAGE, async () => {
      const made = await post("/api/v1/webhooks", { name: data.name.trim(), url: data.url.trim(), events });
      await loadWebhooks();
      showSecret(made);
    });
  });
  return form;
}

function showSecret(made) {
  const box = document.getElementById("wh-secret");
  box.replaceChildren(
    el("strong", { text: t("admin.wh_secret_title", { name: made.name }) }), " ",
    el("span", { text: t("admin.wh_secret_hint") }), " ",
    el("code", { class: "secret", text: made.secret }), " ",
    button(t("admin.copy"), () => navigator.clipboard && navigator.clipboard.writeText(made.secret)),
    button(t("common.close"), () => (box.hidden = true)));
  box.hidden = false;
}

function table(hooks) {
  const rows = hooks.map((hook) => {
    const health = hook.disabled_at
      ? el("span", { class: "pill danger", text: t("admin.wh_disabled") })
      : hook.consecutive_failures
        ? el("span", { class: "pill warn", text: t("admin.wh_failing", { count: fmtNumber(hook.consecutive_failures) }) })
        : el("span", { class: "pill ok", text: t("admin.wh_healthy") });
    const actions = [button(t("admin.wh_log"), () => toggleLog(hook, row), { class: "btn small", "aria-expanded": "false", "aria-label": t("admin.wh_log_of", { name: hook.name }) })];
    if (hook.disabled_at || hook.consecutive_failures) {
      actions.push(button(t("admin.enable"), () => guard(PAGE, async () => { await post(`/api/v1/webhooks/${hook.name}/enable`); await loadWebhooks(); })));
    }
    if (hook.source === "console") {
      actions.push(button(t("common.delete"), () => confirm(t("admin.wh_delete_confirm", { name: hook.name })) &&
        guard(PAGE, async () => { await del(`/api/v1/webhooks/${hook.name}`); await loadWebhooks(); }), { class: "btn small danger", "aria-label": t("admin.wh_delete", { name: hook.name }) }));
    }
    const row = el("tr", { "data-name": hook.name },
      el("td", {}, el("code", { text: hook.name })),
      el("td", { class: "wrap" }, hook.url),
      el("td", { text: hook.source === "console" ? hook.events.join(", ") : t("admin.wh_from_config") }),
      el("td", {}, health),
      el("td", { text: fmtNumber(hook.pending) }),
      el("td", { class: "actions" }, actions));
    return row;
  });
  return el("table", { class: "table wh-table" },
    el("thead", {}, el("tr", {}, [t("admin.wh_name"), t("admin.wh_url"), t("admin.wh_events"), t("admin.status"), t("admin.wh_pending"), ""].map((h) => el("th", { text: h })))),
    el("tbody", { id: "wh-rows" }, rows));
}

async function toggleLog(hook, row) {
  const open = row.nextElementSibling && row.nextElementSibling.classList.contains("wh-log-row");
  const toggle = row.querySelector("[aria-expanded]");
  if (open) {
    row.nextElementSibling.remove();
    toggle.setAttribute("aria-expanded", "false");
    return;
  }
  const cell = el("td", { colspan: "6" }, el("p", { class: "hint", text: t("common.loading") }));
  row.after(el("tr", { class: "wh-log-row" }, cell));
  toggle.setAttribute("aria-expanded", "true");
  await guard(PAGE, async () => cell.replaceChildren(await deliveryLog(hook, cell)));
}

async function deliveryLog(hook, cell) {
  const page = await get(`/api/v1/webhooks/${hook.name}/deliveries?limit=${LOG_SIZE}`);
  if (!page.items.length) return el("p", { class: "hint", text: t("admin.wh_no_deliveries") });
  const rows = page.items.map((d) => el("tr", { "data-delivery": d.id },
    el("td", { text: fmtDateTime(d.created_at) }),
    el("td", {}, el("code", { text: d.event_type })),
    el("td", {}, el("span", { class: `pill ${d.status === "delivered" ? "ok" : d.status === "failed" ? "danger" : "warn"}`, text: codeText("admin.wh_status_", d.status) })),
    el("td", { text: fmtNumber(d.attempts) }),
    el("td", { class: "wrap", text: d.status === "delivered" ? "" : d.last_error || "" }),
    el("td", {}, d.status === "failed"
      ? button(t("common.retry"), () => guard(PAGE, async () => { await post(`/api/v1/webhooks/deliveries/${d.id}/retry`); cell.replaceChildren(await deliveryLog(hook, cell)); }))
      : null)));
  return el("table", { class: "table wh-log", "aria-label": t("admin.wh_log_of", { name: hook.name }) },
    el("thead", {}, el("tr", {}, [t("admin.when"), t("admin.type"), t("admin.status"), t("admin.attempts"), t("admin.wh_last_error"), ""].map((h) => el("th", { text: h })))),
    el("tbody", {}, rows));
}
