"""clip-poc shared code: the notebooks in ``notebooks/`` are thin narratives over these modules."""
