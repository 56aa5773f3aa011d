"""The ``seqrec`` command line (:mod:`seqrec_cli.main`) and the demo (:mod:`seqrec_cli.demo`).

They live in their own package because they use both the trainer (:mod:`seqrec_trainer`)
and the exporter (:mod:`seqrec_export`), which itself imports the trainer: keeping them
here leaves no import cycle between the two.
"""
