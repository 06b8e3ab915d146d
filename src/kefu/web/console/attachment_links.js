// One attachment as a link: an image shows as a picture that opens in the lightbox, any
// other file downloads under its name. Shared by the chat and the ticket view.
//
// Attachments open through short-lived links signed for one file (download_url), never
// with the agent's token in the URL, where it would land in history and proxy logs; an
// expired link is replaced by a fresh one fetched with the agent's token.

import { get } from "./api.js";
import { fmtNumber, t } from "./i18n.js";
import { el } from "./dom.js";
import { plainClick, showImage } from "./lightbox.js";

/** Is this a picture the browser shows (and the lightbox opens)? */
export function isImage(file) {
  return /^image\/(png|jpeg|gif|webp)$/.test(file.content_type);
}

/** "12 KB" in the chosen language. */
export function sizeText(file) {
  return t("chat.size_kb", { size: fmtNumber(Math.ceil(file.size / 1024)) });
}

/** `file` as the chat shows it: a picture link or a named file link with its size. */
export function attachmentView(file) {
  let link;
  if (isImage(file)) {
    link = el("a", { class: "attachment image", href: file.download_url, target: "_blank", rel: "noopener noreferrer" }, thumbnail(file));
  } else {
    link = el("a", { class: "attachment file", href: file.download_url, download: file.name, rel: "noopener noreferrer" }, el("span", { text: file.name }), el("small", { text: ` ${sizeText(file)}` }));
  }
  return opening(link, file);
}

/** The picture of an image attachment, lazily loaded, refreshed once if its link expired. */
export function thumbnail(file) {
  const url = file.download_url;
  const img = el("img", { src: url, alt: file.name, loading: "lazy" });
  // A view kept open past the link's life: fetch a fresh one, once.
  img.addEventListener(
    "error",
    () =>
      freshLink(file)
        .then((fresh) => fresh !== url && (img.src = fresh))
        .catch(() => {}), // gone (erased): the broken image says so
    { once: true },
  );
  return img;
}

/** Make `link` (href = the file's signed link) open right: images in the lightbox on a plain
 * click, and with a fresh signed link when the one it has expired. */
export function opening(link, file) {
  const image = isImage(file) && !link.hasAttribute("download");
  link.addEventListener("click", (event) => {
    const lightbox = image && plainClick(event);
    if (!linkExpired(link.href)) {
      if (lightbox) {
        event.preventDefault();
        showImage(link.href, file.name);
      }
      return;
    }
    event.preventDefault();
    freshLink(file)
      .then((fresh) => {
        link.href = fresh;
        if (lightbox) showImage(fresh, file.name);
        else if (image) window.open(fresh, "_blank", "noopener,noreferrer"); // a tab, as asked
        else link.click(); // a file: the browser downloads it
      })
      .catch(() => {});
  });
  return link;
}

function linkExpired(href) {
  const exp = Number(new URL(href, location.href).searchParams.get("exp"));
  return !exp || exp * 1000 < Date.now() + 5000;
}

async function freshLink(file) {
  file.download_url = (await get(`/api/v1/attachments/${encodeURIComponent(file.id)}/link`)).download_url;
  return file.download_url;
}
