"""Which TikTok API field feeds which contract column: the endpoints read, the fields asked for, the map.

Where each contract column comes from
-------------------------------------
advertisers   (one per configured advertiser, from `advertiser/info/`, up to 100 ids per request)
  advertiser_id, name, currency, timezone   same names (an advertiser the API does not name is left out
                                            and listed in `notes`: the report shows its id)
creators      (one per business account in `tiktok.business_ids`, and one per creator identity met in
              `tt_video/list/` that is not one of those accounts)
  creator_id        business_id (`business/get/`) | `user_info.identity_id` (`tt_video/list/`; an identity
                    whose `tiktok_name` equals a configured account's username is folded into that account)
  handle            `username` (else `display_name`) | `user_info.tiktok_name`
  follower_count    `followers_count` | not given by `tt_video/list/`: 0, listed in `notes`
  is_brand_account  business_id in `tiktok.brand_business_ids` | `identity_type == "TT_USER"`
posts         (organic posts of the accounts, plus authorised posts not among them)
  post_id           `item_id` (19-digit ids stay exact strings; a float is rejected as corrupted)
  advertiser_id     `tiktok.account_advertisers[business_id]` (or the only advertiser) | the advertiser
                    whose `tt_video/list/` holds the item
  creator_id        as above
  posted_at         `create_time` (epoch seconds) | not in `tt_video/list/`: decoded from the item id, whose
                    upper 32 bits are the creation time in epoch seconds (listed in `notes`)
  caption           `caption` | `item_info.text`
  video_path        always empty: the API gives expiring preview URLs, not files (nothing is downloaded)
  spark_auth_status `auth_info.ad_auth_status` (AUTHORIZED -> authorized, EXPIRED -> expired, INVITING /
                    PENDING -> requested, anything else -> none; authorized past `auth_end_time` -> expired);
                    posts absent from `tt_video/list/` -> none
  spark_auth_expires_at  `auth_info.auth_end_time`
partnerships  (one per advertiser and creator pair seen in posts)
  kind              "own" for brand accounts, else `tiktok.default_partnership_kind`
  started_at        the pair's earliest post (the API knows nothing of contracts)
  usage_rights      NOT in the API: it lives in the creator's contract. True for the brand's own account,
                    false for everyone else until a local partnerships table (argument `partnerships`, read
                    from the `--partnerships FILE` or `tiktok.partnerships_file` by `read_partnerships`)
                    overrides kind, started_at and usage_rights per pair.
metrics       (one snapshot per organic post, `observed_at = as_of`)
  views, likes, comments, shares  `video_views`, `likes`, `comments`, `shares`
  avg_watch_s, full_watch_rate    `average_time_watched` (s), `full_video_watched_rate` (0-1)
  reach                           `reach`
  Quirks: reach and the watch fields vanish once a post has been idle for 7 days (kept null where the
  contract allows it, otherwise the snapshot is left out and listed in `notes`: an idle post's earlier
  snapshot already holds them); numbers arrive 24-48 h late, so a snapshot stamped `as_of` describes
  the post a day or two earlier; they stop updating 365 days after posting. The API answers with
  today's numbers only, so `as_of` must be the moment of fetching (posts created after it are left out).
spark_results (one per finished boost: Spark ads of the same post whose delivery starts on the same day are
              summed; a boost with an ad still delivering (`operation_status` ENABLE and delivery on the
              as-of day or the day before) is live: no result row yet, so it is never a training label)
  from `report/integrated/get/` (AUCTION_AD, daily rows per `ad_id`, `report_window_days` windows over
  `report_lookback_days`, metric values given as strings) joined to `ad/get/` (`ad_id -> tiktok_item_id`;
  an ad with an item id is a Spark Ad).
  boosted_at / ended_at  first delivery day / the day after the last delivery day (capped at `as_of`);
                         report days are in the advertiser's time zone (`advertiser/info/`), stored as the
                         UTC moment of that local midnight
spark_hourly  (one per boost and hour, for Spark ads that delivered in the last `hourly_lookback_days`)
  from `report/integrated/get/` with dimensions `["ad_id", "stat_time_hour"]`, one day per request (the
  API serves hourly rows for short ranges only; the Airbyte connector steps P1D too), filtered to those
  ads; the whole lookback is re-read every time because conversions are attributed late and earlier
  hours change (the warehouse upsert replaces them). `stat_time_hour` is in the advertiser's time zone and
  becomes a UTC `hour_start`; only hours that ended by `as_of` are kept; the boost key (`post_id`,
  `boosted_at`) is the one its spark_results row has or will have.
  spend, impressions, clicks, likes, comments, shares   same names
  views_2s, views_6s   `video_watched_2s`, `video_watched_6s`
  conversions        `real_time_conversion`: counted in the hour the conversion happened, so a finished
                     boost's hours show the lag between spend and conversions that the monitor learns;
                     `conversion` (spark_results, baselines) credits the impression's hour and keeps
                     growing for days, which hides that lag and leaves recent hours short
  boost_propensity   unknown to the API: empty
baselines     (non-Spark ads of each advertiser, summed per `baseline_period`, default calendar month)
  period_start / period_end   start of the period / start of the next one; views_2s from
                              `video_watched_2s`, conversions from `conversion`.
"""

VIDEO_LIST = "business/video/list/"
ACCOUNT_GET = "business/get/"
SPARK_LIST = "tt_video/list/"
AD_GET = "ad/get/"
REPORT = "report/integrated/get/"
ADVERTISER_INFO = "advertiser/info/"

VIDEO_FIELDS = [
    "item_id", "create_time", "caption", "video_duration", "share_url", "video_views", "reach", "likes",
    "comments", "shares", "favorites", "average_time_watched", "total_time_watched",
    "full_video_watched_rate",
]
ACCOUNT_FIELDS = ["username", "display_name", "followers_count"]
ADVERTISER_FIELDS = ["advertiser_id", "name", "currency", "timezone"]
AD_FIELDS = ["ad_id", "advertiser_id", "tiktok_item_id", "identity_type", "identity_id", "create_time",
             "operation_status"]
# Report metric -> contract column (spark_results and baselines share them).
REPORT_METRICS = {
    "spend": "spend",
    "impressions": "impressions",
    "video_watched_2s": "views_2s",
    "video_watched_6s": "views_6s",
    "likes": "likes",
    "comments": "comments",
    "shares": "shares",
    "clicks": "clicks",
    "conversion": "conversions",
}
# Hourly rows take the conversion counted when it happened (see spark_hourly above), the rest as REPORT_METRICS.
HOURLY_METRICS = {**{k: v for k, v in REPORT_METRICS.items() if k != "conversion"},
                  "real_time_conversion": "conversions"}
