"""The trading side: order engines, risk, strategies, monitors, alerts, What Changed."""
