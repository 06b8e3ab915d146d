// The ticket's files (an inbound mail's attachments, a department system's uploads over
// gRPC): name, type, size and a download link signed for one file, pictures opening in
// the lightbox. Read from GET /api/v1/tickets/{id}/attachments when the ticket opens, is
// refreshed, or gets a comment (a mail reply may bring files).
//
// File names are untrusted text: they go in through el()/textContent only.

import { get } from "./api.js";
import { isImage, opening, sizeText, thumbnail } from "./attachment_links.js";
import { clear, el } from "./dom.js";
import { t } from "./i18n.js";
import { part, tk } from "./ticket_common.js";
import { why } from "./why.js";

/** Fetch the ticket's files and show them, unless another ticket is on screen by then. */
export async function loadFiles(id, mine) {
  try {
    const page = await get(`/api/v1/tickets/${encodeURIComponent(id)}/attachments`);
    if (mine !== tk.viewSeq) return;
    tk.view.files = page.items;
    tk.view.filesError = "";
  } catch (err) {
    if (mine !== tk.viewSeq) return;
    tk.view.filesError = t("tickets.files_failed", { error: why(err) });
  }
  renderFiles();
}

/** The files card: hidden while the ticket has none. */
export function renderFiles() {
  const box = part("files");
  if (!box || !tk.view) return;
  const files = tk.view.files || [];
  const error = tk.view.filesError || "";
  clear(box);
  box.hidden = !files.length && !error;
  if (box.hidden) return;
  box.append(el("h3", { id: "tk-files-h", text: t("tickets.files") }));
  if (error) box.append(el("p", { class: "form-error", role: "alert", text: error }));
  box.append(el("ul", { class: "tk-files", "aria-labelledby": "tk-files-h" }, ...files.map(fileRow)));
}

function fileRow(file) {
  const meta = t("tickets.file_meta", { type: file.content_type, size: sizeText(file) });
  const name = opening(el("a", { class: "tk-file-name", href: file.download_url, download: file.name, rel: "noopener noreferrer", text: file.name, "aria-label": t("tickets.file_download", { name: file.name }) }), file);
  const picture = isImage(file)
    ? opening(el("a", { class: "tk-file-thumb", href: file.download_url, target: "_blank", rel: "noopener noreferrer", "aria-label": t("tickets.file_view", { name: file.name }) }, thumbnail(file)), file)
    : el("span", { class: "tk-file-icon", "aria-hidden": "true", text: extension(file.name) });
  return el("li", { class: "tk-file" }, picture, el("div", { class: "tk-file-text" }, name, el("small", { class: "tk-file-meta", text: meta })));
}

/** "PDF" for report.pdf: the icon of a file that is not a picture. */
function extension(name) {
  const dot = name.lastIndexOf(".");
  return dot > 0 && name.length - dot <= 5 ? name.slice(dot + 1).toUpperCase() : "";
}
