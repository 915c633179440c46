"""Automation: what runs without a person when monitoring finds a problem.

Alert rules (``tether.monitoring.alert_rules``) find episodes in a
monitor's window values; :mod:`tether.automation.alerting` records them
and runs their actions (:mod:`tether.automation.alert_actions`): webhooks,
pipelines, rollbacks and alias moves. This layer sits above deployments
because a rollback is one of its actions.
"""
