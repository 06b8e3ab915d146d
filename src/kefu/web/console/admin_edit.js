// Changing what exists instead of deleting and re-adding it: a canned reply or an
// auto-reply edited in its own table row (Save / Cancel, Esc cancels), an agent renamed or
// given a new password by an admin (a small dialog). PATCH on each resource.

import { patch } from "./api.js";
import { el } from "./dom.js";
import { t } from "./i18n.js";
import { askForm, button, field, guard } from "./admin_ui.js";

/** The row's cells become inputs; `fields`: [{name, value, label, multiline, attrs}], one
 * per cell from the first; `save(values)` PATCHes, then `done()` re-renders the table. */
function editRow(row, fields, errorKey, save, done) {
  const cells = [...row.children];
  const kept = cells.map((cell) => [...cell.childNodes]);
  const inputs = fields.map((f, index) => {
    const attrs = { name: f.name, "aria-label": f.label, ...(f.attrs || {}) };
    const input = f.multiline ? el("textarea", { ...attrs, rows: "3", text: f.value }) : el("input", { ...attrs, value: f.value });
    cells[index].replaceChildren(input);
    return input;
  });
  const actions = cells[cells.length - 1];
  const cancel = () => {
    cells.forEach((cell, index) => cell.replaceChildren(...kept[index]));
    row.classList.remove("editing");
  };
  const commit = () => {
    if (!inputs.every((input) => input.reportValidity())) return;
    const values = Object.fromEntries(inputs.map((input) => [input.name, input.value]));
    guard(errorKey, async () => {
      await save(values);
      await done();
    });
  };
  actions.replaceChildren(button(t("common.save"), commit, { class: "btn small primary" }), " ", button(t("common.cancel"), cancel));
  row.classList.add("editing");
  row.addEventListener("keydown", (event) => {
    if (!row.classList.contains("editing")) return;
    if (event.key === "Escape") cancel();
    if (event.key === "Enter" && event.target.tagName === "INPUT") {
      event.preventDefault();
      commit();
    }
  });
  inputs[0].focus();
}

export function editCannedButton(reply, reload) {
  return button(t("admin.edit"), (event) => {
    const row = event.target.closest("tr");
    editRow(row, [
      { name: "shortcut", value: reply.shortcut, label: t("admin.shortcut"), attrs: { required: true, maxlength: "64", pattern: "[A-Za-z0-9_\\-]+" } },
      { name: "title", value: reply.title, label: t("admin.title"), attrs: { required: true, maxlength: "200" } },
      { name: "body", value: reply.body, label: t("admin.text"), multiline: true, attrs: { required: true, maxlength: "10000" } },
    ], "canned", (values) => patch(`/api/v1/canned-replies/${encodeURIComponent(reply.id)}`, values), reload);
  }, { class: "btn small", "aria-label": t("admin.edit_canned", { shortcut: reply.shortcut }) });
}

export function editAutoReplyButton(rule, reload) {
  return button(t("admin.edit"), (event) => {
    const row = event.target.closest("tr");
    editRow(row, [
      { name: "keywords", value: rule.keywords.join(", "), label: t("admin.keywords"), attrs: { required: true } },
      { name: "reply", value: rule.reply, label: t("admin.reply"), multiline: true, attrs: { required: true, maxlength: "4000" } },
    ], "auto", (values) => patch(`/api/v1/auto-replies/${encodeURIComponent(rule.id)}`, {
      keywords: values.keywords.split(",").map((k) => k.trim()).filter(Boolean),
      reply: values.reply,
    }), reload);
  }, { class: "btn small", "aria-label": t("admin.edit_auto", { keywords: rule.keywords.join(", ") }) });
}

/** Rename and reset-password buttons for an agent's row (admins). */
export function agentButtons(agent, reload) {
  const rename = button(t("admin.rename"), async () => {
    const data = await askForm(t("admin.rename_title", { name: agent.name }),
      field(t("admin.name"), el("input", { name: "name", required: true, maxlength: "200", value: agent.name })), t("common.save"));
    if (data && data.name.trim() && data.name.trim() !== agent.name) {
      await guard("agents", async () => { await patch(`/api/v1/agents/${encodeURIComponent(agent.id)}`, { name: data.name.trim() }); await reload(); });
    }
  }, { class: "btn small", "aria-label": t("admin.rename_aria", { name: agent.name }) });
  const reset = button(t("admin.reset_password"), async () => {
    const data = await askForm(t("admin.reset_title", { name: agent.name }), [
      el("p", { class: "hint", text: t("admin.reset_hint") }),
      field(t("admin.new_password"), el("input", { name: "password", type: "password", required: true, minlength: "8", maxlength: "1000", autocomplete: "new-password" })),
    ], t("admin.reset_password"));
    if (data) {
      await guard("agents", async () => { await patch(`/api/v1/agents/${encodeURIComponent(agent.id)}`, { password: data.password }); await reload(); });
    }
  }, { class: "btn small", "aria-label": t("admin.reset_aria", { name: agent.name }) });
  return [rename, reset];
}
