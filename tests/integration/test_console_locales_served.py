"""The console's language files are served like its other modules (issue 16): the catalogs
under /console/locales/ and i18n.js as JavaScript, revalidated on every load (no-cache) so
a deploy's new words reach open consoles, under the console's strict CSP."""

from __future__ import annotations

import pytest

from tests.support.kefu import Kefu


@pytest.mark.parametrize(
    "path", ["/console/i18n.js", "/console/locales/en.js", "/console/locales/zh-CN.js"]
)
async def test_language_modules_are_served_as_javascript(kefu: Kefu, path: str) -> None:
    async with kefu.http.get(kefu.url(path)) as resp:
        assert resp.status == 200
        assert resp.content_type in ("text/javascript", "application/javascript")
        assert resp.headers["Cache-Control"] == "no-cache"
        body = await resp.text(encoding="utf-8")
    assert "export" in body
    if path.endswith("zh-CN.js"):
        assert '"common.login_title": "登录客服工作台"' in body


async def test_a_missing_locale_is_a_404(kefu: Kefu) -> None:
    async with kefu.http.get(kefu.url("/console/locales/fr.js")) as resp:
        assert resp.status == 404
