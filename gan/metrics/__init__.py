"""Sample quality: the evaluator classifier, the quality and collapse metrics, and the scoring CLI."""
