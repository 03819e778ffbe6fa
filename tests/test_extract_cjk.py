"""Scripts that run their words together (Chinese, Japanese) are measured in characters: their paragraphs are
paragraphs, their pages articles, just as a page of space-separated words would be."""

from __future__ import annotations

from crawler.extract.article import looks_like_article
from crawler.extract.page import Page
from crawler.extract_cli import extract_targets

JAPANESE = [
    "市の議会は火曜日、川に架かる古い橋を建て直す計画を賛成多数で可決した。",
    "橋は昨年の春、点検で石の橋脚に深いひびが見つかってから通行止めになっている。",
    "工事は三月に始まり、およそ一年半続く見込みで、その間は上流に仮の歩道橋が設けられる。",
    "近くに住む人たちは決定を歓迎しつつも、騒音やほこり、大型車の通行を心配している。",
    "市は工事の進み具合を毎月住民に知らせ、説明会も開くと話している。",
]
CHINESE = [
    "市议会星期二投票通过了重建河上老桥的计划，工程师去年春天在两座石墩上发现了深深的裂缝。",
    "工程预计明年三月开工，持续大约十八个月，期间将在上游几百米处开放一座临时人行桥。",
    "住在桥附近的居民表示欢迎这一决定，但担心施工期间的噪音、灰尘和狭窄街道上的重型卡车。",
    "市政府表示，将每月向居民通报工程进展，并在开工前举行两次说明会，听取大家的意见。",
    "沿河的商店希望市政府在行人减少的几个月里给予帮助，一些店主要求降低租金和免费停车。",
]


def page(lang: str, title: str, paragraphs: list[str]) -> str:
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return f"""<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>
<meta property="og:type" content="article"></head>
<body><nav><a href="/">ホーム</a> <a href="/news/">ニュース</a></nav>
<div class="story"><h1>{title}</h1>{body}</div><footer><p>© 2024</p></footer></body></html>"""


def test_a_japanese_article_is_an_article():
    assert looks_like_article(Page.from_text(page("ja", "古い橋を建て直し", JAPANESE), "https://example.jp/news/bridge.html"))


def test_every_paragraph_of_a_chinese_article_is_its_body(tmp_path):
    path = tmp_path / "page.html"
    path.write_text(page("zh", "市议会决定重建老桥", CHINESE), encoding="utf-8")
    (result,) = extract_targets([str(path)])
    assert not isinstance(result, Exception), result
    assert result["content_text"].split("\n\n") == CHINESE
