"""`scorer calibrate` and `scorer backtest`: scoring criteria from won deals, and what a
rules change would do, replayed through the same core as the worker.

Modules: `history` (reading events with line numbers), `outcomes` (won/lost from feedback
or a CRM CSV), `features` (what was known before each decision), `lift` (win rates with
intervals), `model` (time-ordered split, logistic regression), `points` (coefficients on
the rules file's scale), `rules_writer` (the proposed file, with evidence comments),
`thresholds` (what sales would receive per threshold), `backtest` (replays compared),
`report` and `charts` (the HTML report), `commands` (what the CLI calls).
"""
