"""Infrastructure every stage uses: project paths, progress bars, timing, thread and process pools,
the metrics file (``runs``). Imports nothing else of ``utils``.
"""
