"""Lock model and rule data (installed as analyzer.rules)."""
