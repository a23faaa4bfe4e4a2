"""Emergency supplies and volunteer dispatch for Beijing's Dongcheng district."""

import os

# Piccolo finds its engine through this module; set it before any table is touched.
os.environ.setdefault("PICCOLO_CONF", "dispatch.piccolo_conf")
