"""sparkpick: pick the organic TikTok posts worth boosting as Spark Ads.

The foundation library: configuration, the data contract, the DuckDB warehouse, the sources and the report.
"""

__version__ = "0.1.0"
