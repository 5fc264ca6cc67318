"""Video polish cues: how produced a post's video looks (see issue 3).

frames.py decodes once and downscales by timestamp; cues.py turns frames into cues; polish.py scores them
0-100 with reasons; extract.py runs one file (status, time limit, thumbnail); pool.py runs many in
isolated processes; table.py joins the cached features onto posts.
"""
