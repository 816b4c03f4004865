"""clip-poc shared code: the notebooks in ``notebooks/`` are thin narratives over these packages.

The packages follow the notebooks' stages, and their imports run one way (a test checks it):
``core`` (paths, progress, timing, process pools, the metrics file) -> ``data`` (01-02) ->
``models`` (03-04) -> ``evaluation`` (05) -> ``explain`` (06) and ``labels`` (07: which products
to label next, which labels look wrong) -> ``report`` (figures, prose, the note, notebook
sessions; 08). ``predict`` and ``bench`` are entry points that may use them all.
"""

import warnings

# transformers imports tqdm.auto, which warns in kernels without ipywidgets; our bars are plain
# text.
warnings.filterwarnings("ignore", message="IProgress not found")
