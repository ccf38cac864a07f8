"""Objective math: the reward, the Pareto front, ranking of trials."""
