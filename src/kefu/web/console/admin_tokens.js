// API tokens (admins): machine clients' credentials. Created with a name and scopes, the
// secret shown once (kefu keeps only its hash), listed with when each was last used, and
// revoked. POST/GET/DELETE /api/v1/api-tokens.

import { del, get, post } from "./api.js";
import { el } from "./dom.js";
import { fmtDateTime, t } from "./i18n.js";
import { button, field, guard, pageShell } from "./admin_ui.js";

const PAGE = "tokens";
let scopes = null;

export async function loadTokens() {
  const body = pageShell(PAGE, t("admin.tok_title"), t("admin.tok_hint"));
  scopes = scopes || (await get("/api/v1/api-tokens/scopes"));
  const tokens = await get("/api/v1/api-tokens");
  body.append(createForm(), el("div", { id: "tok-secret", class: "admin-secret", hidden: true, role: "status" }));
  if (!tokens.length) body.append(el("p", { class: "hint", text: t("admin.tok_none") }));
  else body.append(table(tokens));
}

function createForm() {
  const boxes = el("fieldset", { class: "admin-scopes" }, el("legend", { text: t("admin.tok_scopes") }),
    scopes.map((scope) => el("label", {}, el("input", { type: "checkbox", name: "scope", value: scope }), " ", el("code", { text: scope }))));
  const form = el("form", { class: "inline-form tok-form", id: "tok-form", autocomplete: "off" },
    field(t("admin.tok_name"), el("input", { name: "name", required: true, maxlength: "200", placeholder: t("admin.tok_name_placeholder") })),
    boxes,
    el("button", { type: "submit", class: "btn primary", text: t("admin.tok_create") }));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const chosen = data.getAll("scope");
    if (!chosen.length) {
      document.querySelector(`[data-error=${PAGE}]`).textContent = t("admin.tok_need_scope");
      return;
    }
    guard(PAGE, async () => {
      const made = await post("/api/v1/api-tokens", { name: String(data.get("name")).trim(), scopes: chosen });
      await loadTokens();
      showSecret(made);
    });
  });
  return form;
}

function showSecret(made) {
  const box = document.getElementById("tok-secret");
  box.replaceChildren(
    el("strong", { text: t("admin.tok_secret_title", { name: made.name }) }), " ",
    el("span", { text: t("admin.tok_secret_hint") }), " ",
    el("code", { class: "secret", text: made.token }), " ",
    button(t("admin.copy"), () => navigator.clipboard && navigator.clipboard.writeText(made.token)),
    button(t("common.close"), () => (box.hidden = true)));
  box.hidden = false;
}

function table(tokens) {
  const rows = tokens.map((token) => el("tr", { class: token.revoked_at ? "muted" : "", "data-token": token.id },
    el("td", { text: token.name }),
    el("td", {}, token.scopes.map((s) => el("code", { class: "scope", text: s }))),
    el("td", { text: fmtDateTime(token.created_at) }),
    el("td", { text: token.last_used_at ? fmtDateTime(token.last_used_at) : t("admin.tok_never") }),
    el("td", {}, token.revoked_at
      ? el("span", { text: t("admin.tok_revoked", { when: fmtDateTime(token.revoked_at) }) })
      : button(t("admin.tok_revoke"), () => confirm(t("admin.tok_revoke_confirm", { name: token.name })) &&
          guard(PAGE, async () => { await del(`/api/v1/api-tokens/${token.id}`); await loadTokens(); }),
        { class: "btn small danger", "aria-label": t("admin.tok_revoke_aria", { name: token.name }) }))));
  return el("table", { class: "table tok-table" },
    el("thead", {}, el("tr", {}, [t("admin.tok_name"), t("admin.tok_scopes"), t("admin.tok_created"), t("admin.tok_last_used"), ""].map((h) => el("th", { text: h })))),
    el("tbody", {}, rows));
}
