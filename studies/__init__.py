"""mbert's studies: performance and quality experiments, run from a checkout as `python -m studies.NAME`.

Not installed with the package; what each measures and where its results are: studies/README.md.
"""
