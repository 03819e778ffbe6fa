"""What extraction looks for, in many languages: tag sets, line patterns, class words and metadata names; no logic.

Site-specific words never sit here: a site's own furniture belongs to its parser (crawler/parsers/limitedtimes.py).
"""

from __future__ import annotations

import re

# -- the blocks of an article body

BLOCK_TAGS = ("p", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "blockquote", "table", "pre")
HEADINGS = ("h2", "h3", "h4", "h5", "h6")
BLOCKS_XPATH = ".//*[self::p or self::h2 or self::h3 or self::h4 or self::h5 or self::h6 or self::ul or self::ol or self::blockquote or self::table or self::pre]"

# -- lines that are no article text: the publisher's "Source:" line, credits, boilerplate, "read also"

SOURCE_LABEL = (
    r"(?:source|sources|quelle|fuente|fonte|source originale|bron|źródło|kilde|källa|lähde|zdroj|forrás|fonti|kaynak|出典|来源|출처)\s*[:：]"
)
PUBLISHER_LINE = re.compile(rf"^\s*{SOURCE_LABEL}\s*(.{{1,80}}?)\s*$", re.I)
# A credit line names its news agencies, alone (`dpa`, `Reuters`) or with the editors' initials, slash-separated
# (`asc / dpa / AFP`): at least one known agency, so a one-word closing paragraph ("Note") is never a credit.
AGENCIES = (
    "dpa", "afp", "ap", "reuters", "epd", "kna", "apa", "sda", "ats", "ansa", "efe", "upi", "xinhua", "tass", "itar-tass",
    "kyodo", "yonhap", "aap", "pti", "ani", "ians", "anp", "belga", "ntb", "tt", "ritzau", "stt", "pap", "ctk", "čtk",
    "mti", "bta", "lusa", "europa press", "sid", "kap", "bloomberg",
)
_AGENCY = "(?:" + "|".join(re.escape(a).replace(r"\ ", r"\s+") for a in AGENCIES) + r")"
_CREDIT_TOKEN = rf"(?:{_AGENCY}|[a-z]{{1,4}})"
CREDIT_LINE = re.compile(rf"^\s*(?:{_CREDIT_TOKEN}\s*/\s*)*{_AGENCY}(?:\s*/\s*{_CREDIT_TOKEN})*\s*$", re.I)
_BOILERPLATE = [
    re.compile(p, re.I)
    for p in (
        r"^photo\s*:",
        r"^©",
        r"^(read more|read next|related( articles?| stories| content)?|more on this( story)?|share this( article| story)?|don[’']t miss|(show |view |read )?comments?( \(\d+\))?|kommentare|comentarios|commentaires"
        r"|advertisement|anzeige|publicidad|sponsored( content)?|subscribe to our newsletter.*|sign up for our newsletter.*"
        r"|click here to subscribe.*|weiterlesen|lesen sie auch|leer más|lire aussi|also read|see also|recommended( for you)?)\W*$",
    )
]
# "Read also" in the web's languages: a block that is only this, or this, a colon and a headline, points elsewhere.
READ_ALSO = (
    r"(?:read (?:also|more|next)|also read|see also|related(?: articles?| stories| posts| content| news| coverage)?|"
    r"more on this(?: story| topic)?|you (?:may|might) also like|further reading|"
    r"(?:lesen sie|lies) (?:auch|hier|mehr)|auch lesen|mehr zum thema|weitere artikel(?: zum thema)?|"
    r"verwandte (?:artikel|beiträge|themen)|ähnliche (?:artikel|beiträge)|(?:das thema )?könnte (?:sie|dich) auch interessieren|"
    r"das könnte (?:sie|dich) auch interessieren|auch interessant|"
    r"lea (?:también|más)|lee también|vea también|ver también|mira también|notas relacionadas|noticias relacionadas|"
    r"artículos relacionados|te puede interesar|lire aussi|à lire aussi|voir aussi|sur le même sujet|"
    r"leggi anche|potrebbe interessarti|articoli correlati|leia (?:também|mais)|veja também|lees ook|"
    r"czytaj (?:też|także|również|więcej)|zobacz (?:też|także|również)|läs även|läs också|les også|læs også|lue myös|"
    r"čtěte také|читайте также|читайте також|похожие (?:статьи|новости)|関連記事|相关阅读|相关文章|관련\s?기사)"
)
# …and the bare imperatives a headline of another story follows ("Lea: …", "MIRA: …", "Watch: …"), with a colon only
# and, as a headline, no sentence's closing stop: "LEE: We saw the smoke first." is a line of an interview's transcript
POINTER = r"(?:read|watch|lea|lee|mira|ver|leia|veja|leggi|guarda|lire|voir|czytaj|zobacz)"
_BOILERPLATE += [
    re.compile(rf"^{READ_ALSO}\W*$", re.I),
    re.compile(rf"^(?:{READ_ALSO}\s*[:：|»›]\s*\S.{{0,180}}|{POINTER}\s*[:：]\s*\S.{{0,180}}(?<![.!?。！？]))$", re.I),
]
BOILERPLATE_LINE = re.compile("|".join(f"(?:{p.pattern})" for p in _BOILERPLATE), re.I)  # one search instead of one each
# An affiliate or advertiser disclosure: "We may receive compensation when you click…", "… mit Affiliate-Links versehen".
DISCLOSURE = re.compile(
    r"\bwe (?:may |might |can )?(?:receive|earn|get) (?:a )?(?:small )?(?:compensation|commission)|\baffiliate[- ]links?\b|"
    r"\bas an amazon associate\b|\b(?:provisions|werbe)-?links?\b|\badvertiser disclosure\b|\bproducts from one or more of our advertisers\b",
    re.I,
)
DISCLOSURE_HINTS = ("compensation", "commission", "affiliate", "associate", "provisions", "werbe", "advertiser")  # one in each
# A caption's credit: a short block that opens with an image label ("Foto: …", "Titelbild: …", "(Credit: …)",
# "Abbildung 4: …"), ends with one in brackets ("… im Kongress (Foto: Name/Agentur)."), or ends on a "© Name".
IMAGE_LABEL = (
    r"(?:photos?|photo credits?|fotos?|fotocredits?|bild(?:er)?|titelbild|images?|pictures?|credits?|crédits?(?: photos?)?|"
    r"fotograf[íi]as?|imagen|zdj[eę]cie|kuva|billede|afbeelding|illustrations?|abbildung|abb\.|figure|fig\.|figura)"
)
IMAGE_CREDIT = re.compile(rf"^\(?{IMAGE_LABEL}(?:\s*\d+)?\s*[:：]|\({IMAGE_LABEL}\s*[:：][^)]*\)\W*$|©[^.!?]*$", re.I)

# -- page parts that are never the article

# class/id words of page parts that are never the article: share bars, related lists, ads, newsletter boxes, …
JUNK_WORDS = (
    "share", "sharing", "social", "related", "recommended", "recommendations", "newsletter", "subscribe", "subscription",
    "promo", "advert", "advertisement", "ad", "ads", "adslot", "sponsor", "sponsored", "outbrain", "taboola", "readmore",
    "read-more", "more-stories", "most-popular", "popular", "trending", "comments", "comment", "disqus", "signup",
    "paywall", "breadcrumb", "breadcrumbs", "tags", "tag-list", "author-bio", "byline", "toolbar",
    "visually-hidden", "sr-only", "cookie", "consent", "modal", "popup", "nav", "navigation", "menu", "footer", "sidebar",
    "widget", "inline-related", "see-also", "also-read", "newsletter-signup", "caption", "copyright", "toc", "table-of-contents",
)
# …but not after a modifier that describes the layout around the article ("main--no-sidebar", "section--has-ads")
JUNK_CLASS = re.compile(
    r"(?:^|[\s_-])(?<!no-)(?<!has-)(?<!with-)(?<!without-)(?:" + "|".join(re.escape(w) for w in JUNK_WORDS) + r")(?:$|[\s_-])", re.I
)
SKIP_ANCESTORS = ("figure", "aside", "nav", "footer", "header", "form", "button", "figcaption", "noscript", "script", "style", "template")
NON_ARTICLE_PATH = re.compile(
    r"/(?:tags?|topics?|authors?|autor|autores|auteur|writers?|profile|users?|search|suche|buscar|recherche|login|log-in|"
    r"signin|sign-in|register|signup|sign-up|account|subscribe|newsletter|galler(?:y|ies)|photos?|fotos?|bilder|videos?|"
    r"category|categories|section|archive|archives|page|feed|rss|privacy|terms|contact|about)(?:/|$|\.html?$)",
    re.I,
)
SEARCH_QUERY = re.compile(r"(?:^|&)(?:q|s|query|search)=")  # a search results page's query string
NOT_ARTICLE_TYPES = ("website", "profile", "video", "video.other", "music.song", "book")  # og:type of other pages
ARTICLE_TYPES = ("article", "news", "news.article", "blog", "blogpost")  # og:type of an article

# -- titles and bylines

TITLE_SEPARATORS = re.compile(r"\s+[|\-–—:·•»«/]\s+|\s*[|•·»«]\s*")  # between a headline and the site name
BYLINE_LABEL = re.compile(r"^(?:by|von|por|par|di|door|av|af|przez|от|文|記者)\s*[:：]?\s+", re.I)
NAME_SEPARATORS = re.compile(r"\s*(?:,|;|&|\band\b|\bund\b|\by\b|\bet\b|\be\b|\ben\b|\boch\b|\bog\b|\bi\b|\bund\b)\s*", re.I)
AUTHOR_MARKUP = "//*[@itemprop='author' or (self::a and @rel='author') or contains(@class,'byline')]"


# -- words

# Chinese and Japanese run their words together: each of their characters counts as a word (of thresholds and
# shingles alike), so that a paragraph of 200 characters weighs like one of 100 words, not like one word.
CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f"
TOKEN = re.compile(rf"[{CJK}]|[^\W{CJK}]+")


# -- paragraphs that point elsewhere or ask for something

# A paragraph that points elsewhere instead of telling: "Related: <a>…</a>", "READ MORE: <a>…</a>", or a row of
# links ("<a>A</a> [VIDEO] | <a>B</a> [INSIGHT]"). Lead-ins in the languages refeed's sources are written in.
LEAD_IN = re.compile(
    r"^(?:related|related articles?|related stories|read more|read next|read also|also read|more|more on this|see also|"
    r"watch|listen|recommended|further reading|lesen sie auch|mehr zum thema|auch interessant|leer más|lea también|"
    r"ver también|lire aussi|à lire aussi|voir aussi|leggi anche|leia também|lees ook|czytaj także|läs även|les også)"
    r"(?:\s*[:：|»›]|\s+[-–—]\s)",
    re.I,
)
TAG_MARKS = re.compile(r"\[[^\]]{0,20}\]|\([^)]{0,20}\)")  # "[VIDEO]", "(Photos)" beside a headline link


# The last paragraphs of many articles ask the reader for something: to follow the site or the author, to sign up,
# to click, to comment. Only short ones, only at the end, and only a sentence that starts with the request (an
# imperative: "Follow us on …", not "police will follow every lead posted on Facebook") are taken for that.
_REQUEST = r"(?:^|[.!?…]\s+)"
PROMOTION = re.compile(
    _REQUEST + r"(?:please |don[’']t forget to |like and )?(?:follow(?!-)|like us|find us)\b[^.!?]{0,80}?"
    r"\bon (?:twitter|facebook|instagram|linkedin|tiktok|threads|bluesky|mastodon|x(?![-\w]))"
    r"|" + _REQUEST + r"follow us\s*[:：]"
    r"|" + _REQUEST + r"(?:sign up|subscribe|register)\b[^.!?]{0,80}?\bnewsletters?\b"
    r"|" + _REQUEST + r"click here\b"
    r"|" + _REQUEST + r"(?:please )?subscribe (?:now|today|to (?:our|the)\b)|\bplease subscribe\b|\balready (?:a )?subscriber\b"
    r"|" + _REQUEST + r"(?:(?:for [^.!?]{0,40}?)?download (?:the|our)\b[^.!?]{0,40}?\bapps?\b)"
    r"|\bdownload (?:the|our)\b[^.!?]{0,40}?\bapps?\b[^.!?]{0,20}?\b(?:ios|android|app store|google play)\b"
    r"|\b(?:hier klicken|klicken sie hier|cliquez ici|haga clic aquí|haz clic aquí|pulsa aquí|clicca qui|clique aqui)\b"
    r"|\b(?:our|nuestro|nuestra|tenemos|unser\w*|notre|nostro|nossa|nosso)\b[^.!?]{0,30}?\b(?:youtube|telegram|whatsapp)\b"
    r"|" + _REQUEST + r"we(?:'|’)?d (?:like|love) to hear (?:from you|what you think)"
    r"|" + _REQUEST + r"we would (?:like|love) to hear (?:from you|what you think)"
    r"|^(?:tell us what you think|what do you think|let us know what you think|join the conversation|leave a comment"
    r"|share your thoughts)\b|^\[(\w+)\b[^\]]*\].*\[/\1\]$",
    re.I,
)

# -- the standfirst: the lede between the headline and the body, which article containers often leave out

# class/id words of a standfirst, in the web's languages (a teaser list is told apart by its links and blocks)
LEAD_WORDS = (
    "lead", "lede", "intro", "introduction", "standfirst", "teaser", "chapo", "chapeau", "deck", "dek", "summary",
    "excerpt", "abstract", "preface", "subtitle", "subheadline", "subhead", "bajada", "entradilla", "sumario",
    "vorspann", "ingress", "ingresso", "occhiello", "sommario",
)
LEAD_CLASS = re.compile(r"(?:^|[\s_-])(?:" + "|".join(re.escape(w) for w in LEAD_WORDS) + r")(?:$|[\s_-])", re.I)

# -- inline markup: text inside these belongs to the block around it

INLINE_TAGS = frozenset(("a", "span", "b", "strong", "i", "em", "u", "font", "small", "big", "sup", "sub", "abbr", "cite",
                         "code", "mark", "q", "s", "time", "br", "wbr", "img", "label"))


# -- the page's metadata: names of <meta> elements, in the order they are trusted

PUBLISHED_META = (
    "article:published_time", "og:published_time", "datePublished", "published_time", "pubdate", "publishdate", "publish-date",
    "parsely-pub-date", "sailthru.date", "dc.date.issued", "DC.date.issued", "dcterms.created", "dcterms.date", "date", "DC.date",
)
MODIFIED_META = ("article:modified_time", "og:updated_time", "dateModified", "last-modified")
AUTHOR_META = ("author", "article:author", "parsely-author", "sailthru.author", "dc.creator", "DC.creator", "byl")
LANGUAGE_META = ("og:locale", "language", "content-language", "dc.language", "DC.language")
# class words of the elements a visible date is written in, near the headline
DATE_CLASS_MARKS = ("date", "time", "published", "meta", "byline", "fecha", "datum", "data", "zeit", "hora", "dateline")
DATE_LABEL = re.compile(r"^(?:published|updated|veröffentlicht|publicado|publié)\s*(?:on|am|le|el)?\s*:?\s*", re.I)
HOME_CRUMBS = ("home", "start", "startseite", "inicio", "accueil", "portada")  # a breadcrumb's first, the site's home
PHOTO_CREDIT = re.compile(r"\s(?:photo|foto|bild|image|picture|credit)\s*:\s", re.I)  # where a caption's credit begins
