"""Timers: deadlines that rule files declare and the service fires by itself, exactly once.

``definitions`` reads the ``timers:`` of rule files, ``due`` computes when a
timer falls due, ``deadlines`` writes the rows in the transaction of the event
that starts or stops them, and ``claimer`` fires the rows that fell due.
"""
