"""What a coordinator works through: the dashboard's lists and the morning digest, from one set of
queries."""
