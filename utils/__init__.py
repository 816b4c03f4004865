"""clip-poc shared code: the notebooks in ``notebooks/`` are thin narratives over these modules."""

import warnings

# transformers imports tqdm.auto, which warns in kernels without ipywidgets; our bars are plain
# text.
warnings.filterwarnings("ignore", message="IProgress not found")
