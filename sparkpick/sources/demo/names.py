"""Vocabulary of the demo world: brands, creator handles and caption templates.

Plain data, so that the generators stay about behaviour. Captions deliberately include commas, quotes,
emoji and the odd line break, because real captions do and CSV handling must cope.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Brand:
    name: str
    vertical: str
    product: str
    tags: tuple[str, ...]
    # Two brand colours, BGR (OpenCV order), used for logos, packaging and banners.
    primary: tuple[int, int, int]
    accent: tuple[int, int, int]


BRANDS: tuple[Brand, ...] = (
    Brand("Glow Botanics", "beauty", "vitamin C serum", ("skincare", "glowup", "skintok"),
          (60, 40, 200), (80, 200, 250)),
    Brand("Trailhead Coffee", "coffee", "cold brew", ("coffeetok", "morningroutine", "coldbrew"),
          (30, 70, 120), (140, 220, 240)),
    Brand("Pulse Athletics", "fitness", "training shoe", ("gymtok", "fitcheck", "running"),
          (200, 90, 20), (40, 230, 250)),
    Brand("Loomline", "fashion", "linen shirt", ("ootd", "fashiontok", "capsulewardrobe"),
          (120, 60, 140), (210, 220, 240)),
    Brand("Nimbus Audio", "tech", "wireless earbuds", ("techtok", "gadgets", "unboxing"),
          (40, 40, 40), (250, 170, 30)),
    Brand("Pawsome Pantry", "pets", "grain-free kibble", ("dogsoftiktok", "pettok", "puppy"),
          (40, 140, 60), (60, 200, 250)),
    Brand("Crunch Theory", "snacks", "chili crisps", ("snacktok", "foodtok", "tastetest"),
          (20, 30, 180), (30, 200, 240)),
    Brand("Northbound Gear", "outdoor", "trail backpack", ("hikingtok", "camping", "outdoors"),
          (60, 90, 40), (50, 140, 230)),
    Brand("Hearth & Fern", "home", "soy candle", ("homedecor", "cleantok", "cozyhome"),
          (90, 110, 150), (200, 230, 240)),
    Brand("Tressa", "haircare", "bond repair mask", ("hairtok", "curlyhair", "haircare"),
          (140, 40, 120), (220, 180, 250)),
    Brand("Pixel Forge", "gaming", "mechanical keyboard", ("gamingsetup", "pcbuild", "keyboardtok"),
          (160, 30, 30), (60, 250, 120)),
    Brand("Wayfare", "travel", "carry-on suitcase", ("traveltok", "packwithme", "carryon"),
          (150, 120, 20), (240, 240, 240)),
)

FIRST_NAMES = (
    "mia", "jordan", "ava", "leo", "zoe", "sam", "nina", "kai", "ella", "noah", "ivy", "max", "luna", "eli",
    "ruby", "theo", "maya", "finn", "isla", "omar", "sofia", "jay", "nora", "rio", "lena", "ben", "amara",
    "drew", "tess", "milo", "priya", "cole", "hana", "luca", "jade", "remy", "aria", "ezra", "lila", "dev",
)
HANDLE_PATTERNS = (
    "{n}.makes.things", "{n}_daily", "its.{n}", "{n}.{v}", "{n}{v}club", "the.{n}.edit", "{n}_tries_{v}",
    "{n}.irl", "just{n}", "{n}__{v}", "{v}with{n}", "{n}.on.{v}",
)

NATIVE_CAPTIONS = (
    "ok but this {product} actually slaps 😭 #{tag} #{brandtag}",
    "day {day} of using the {brand} {product}, honest review (no filter)",
    "POV: you finally found a {product} that works #{tag}",
    "not me buying a second {product}... #{brandtag} #{tag}",
    'my "quick" morning routine ft. {brand} 🙃',
    "things i'd buy again: {product}, that's it that's the list",
    "replying to @{reply}: yes it's the {brand} one!!",
    "3 ways i use my {product}\n(the last one is weird) #{tag}",
    "trying the viral {product} so you don't have to #{tag}",
)
PRODUCED_CAPTIONS = (
    "Introducing the new {brand} {product}. Shop now ✨ #{brandtag}",
    "Meet the {product}: designed for every day. Link in bio.",
    "{brand} | The {product}, reimagined. #{brandtag} #{tag}",
    "New season, new {product}. Available now at {brand}.",
    "Limited drop: the {product} in 3 new colours. #{brandtag}",
)
OFF_TOPIC_CAPTIONS = (
    "weekend vlog part {day} 🌊 (feat. {brand})",
    "get ready with me for a wedding, long one sorry",
    "random dump from this week #fyp",
    "answering your questions, part {day} #storytime",
)
DISCLOSURES = ("#ad", "#partner", "#sponsored", "(paid partnership)")

HOOK_TEXTS = ("WAIT FOR IT", "STOP SCROLLING", "3 THINGS", "NOBODY TALKS ABOUT THIS", "I WAS WRONG", "POV:")
PRODUCED_BANNERS = ("NEW", "SHOP NOW", "LIMITED DROP", "20% OFF", "AVAILABLE NOW", "BESTSELLER")
HANDWRITTEN = ("honest review", "day 3", "obsessed", "wait...", "not sponsored lol", "ok wow", "link below")
