// "Create ticket" from a chat (issue 15 item 13): a side form at the top of the right-hand
// panel (the drawer on narrow screens), so the agent stays in the chat. Priority and
// assignee are prefilled (normal, the agent), the subject (the visitor's first words) can be
// changed; the transcript (without the bot's lines) shows what the ticket will carry.
// POST /conversations/{id}/ticket makes it with them (or answers the one it already has).

import { get, ticketFromConversation, updateTicket } from "./api.js";
import { $, clear, el } from "./dom.js";
import { openDrawer } from "./drawer.js";
import { t, tn } from "./i18n.js";
import { state, visitorName } from "./state.js";
import { teamMembers } from "./ticket_common.js";
import { why } from "./why.js";

let forId = null;
let seq = 0;

export function initTicketForm() {
  $("#tk-side").addEventListener("submit", submit);
  $("#tk-side-cancel").addEventListener("click", closeTicketForm);
}

export function closeTicketForm() {
  forId = null;
  $("#tk-side").hidden = true;
}

/** Show the form for conversation ``id`` (the chat stays as it is). */
export async function openTicketForm(id) {
  const mine = ++seq;
  forId = id;
  const form = $("#tk-side");
  form.hidden = false;
  $("#tk-side-status").textContent = "";
  $("#tk-side-create").disabled = false;
  $("#tk-side-create").hidden = false;
  $("#tk-side-cancel").textContent = t("common.cancel");
  document.body.classList.remove("hide-details");
  openDrawer();
  const item = state.conversations.get(id) || {};
  const assignee = $("#tk-side-assignee");
  clear(assignee);
  assignee.append(el("option", { value: "", text: t("tickets.nobody") }));
  for (const agent of teamMembers()) {
    assignee.append(el("option", { value: agent.id, text: agent.id === state.me.id ? t("tickets.name_you", { name: agent.name }) : agent.name, selected: agent.id === state.me.id }));
  }
  $("#tk-side-priority").value = "normal";
  const subject = $("#tk-side-subject");
  subject.value = t("tickets.conversation_with", { name: visitorName(item) });
  const list = $("#tk-side-transcript");
  clear(list);
  form.scrollIntoView({ block: "nearest" });
  subject.focus();
  try {
    const page = await get(`/api/v1/conversations/${encodeURIComponent(id)}/messages?limit=200`);
    if (mine !== seq) return;
    const said = page.items.filter((m) => ["visitor", "agent"].includes(m.sender.kind) && !m.internal);
    const first = said.find((m) => m.sender.kind === "visitor" && m.body);
    if (first) subject.value = first.body.replace(/\s+/g, " ").slice(0, 120);
    for (const message of said.slice(-8)) {
      const who = message.sender.kind === "visitor" ? visitorName(item) : message.sender.name || t("tickets.agent");
      list.append(el("li", {}, el("strong", { text: `${who}: ` }), el("span", { text: message.body || t("tickets.attachment") })));
    }
    if (said.length > 8) list.prepend(el("li", { class: "muted", text: tn("tickets.earlier", said.length - 8) }));
  } catch (err) {
    if (mine === seq) $("#tk-side-status").textContent = t("tickets.transcript_failed", { error: why(err) });
  }
}

async function submit(event) {
  event.preventDefault();
  const id = forId;
  if (!id) return;
  const button = $("#tk-side-create");
  const status = $("#tk-side-status");
  button.disabled = true;
  status.textContent = t("tickets.creating");
  try {
    const wanted = $("#tk-side-assignee").value || null;
    let ticket = await ticketFromConversation(id, {
      priority: $("#tk-side-priority").value,
      subject: $("#tk-side-subject").value.trim(),
      assignee_id: wanted,
    });
    // "Nobody" (the server assigns the chat's agent), or a ticket the chat already had.
    if ((ticket.assignee_id || null) !== wanted) ticket = await updateTicket(ticket.id, { assignee_id: wanted });
    if (forId !== id) return;
    clear(status);
    status.append(
      el("span", { text: `${t("tickets.created_from_chat", { id: ticket.id })} ` }),
      el("button", {
        type: "button",
        class: "link-btn",
        text: t("tickets.open_ticket", { id: ticket.id }),
        onclick: () => {
          closeTicketForm();
          document.dispatchEvent(new CustomEvent("kefu:open-ticket", { detail: { ticket } }));
        },
      }),
    );
    button.hidden = true;
    $("#tk-side-cancel").textContent = t("tickets.done");
  } catch (err) {
    status.textContent = t("tickets.create_failed", { error: why(err) });
    button.disabled = false;
  }
}
