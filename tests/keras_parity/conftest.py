import os
import sys

# the harness imports its case modules as `keras_parity.cases_*`
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
