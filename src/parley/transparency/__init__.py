"""What Parley tells regulators: statements of reasons, the transparency report, response times.

- :mod:`parley.transparency.decisions`: every restriction and appeal decision, read back from the
  append-only audit log (which the retention purge never deletes);
- :mod:`parley.transparency.statements`: each decision as a statement of reasons in the format of
  the EU's DSA Transparency Database (``sor_schema.json``, with its sources), in batches;
- :mod:`parley.transparency.report`: the figures of the EU's harmonised transparency report
  template that apply to Parley, as JSON and CSV;
- :mod:`parley.transparency.response_times`: how long reports and flags wait, per priority class,
  as Prometheus gauges, and the alert for a ``minor_in_danger`` report left open;
- :mod:`parley.transparency.territory`: the countries a statement's territorial scope may name.

This package imports nothing from here on purpose: ``parley.config`` reads ``territory``.
"""
