"""Video polish cues: how produced a post's video looks (see issue 3).

frames.py decodes once and downscales by timestamp; cues/ turns frames into cues (one family a module);
polish.py scores them 0-100 with reasons; extract.py runs one file (status, time limit, thumbnail); pool.py runs many in
isolated processes, cluster.py on a Dask cluster; cache.py plans which videos to compute (content hash,
feature version); table.py joins the cached features onto posts.
"""

# Video columns of the feature matrix carry this prefix (`video_<cue>`): how the matrix, the baselines
# and the scorer tell video features from the others.
VIDEO_PREFIX = "video_"
