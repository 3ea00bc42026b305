"""The failure census: the classes a run's own history earns, the rules behind them, stop rules and ranking."""
