"""Timers: deadlines that rule files declare and the service fires by itself, exactly once.

``due`` computes when a started timer falls due and ``deadlines`` writes the
rows in the transaction of the event that starts or stops them.  Reading the
``timers:`` of rule files is the rule set's (``service.ruleset.timers``);
firing due rows is the claimer's (``service.claimer``), which decides through
ingest's pipeline, which calls this package: so neither lives here.
"""
