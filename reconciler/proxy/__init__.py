"""The three proxy-task design tools (variance measurement, model selection, proxy-task search).

The math modules (curves, variance, selection, correlation, stopping) do no I/O: the stages in
``reconciler/stages/`` feed them recorded trial curves and record what they return. Plots live in
:mod:`reconciler.stages.proxy_plots` (matplotlib, lazy); :mod:`reconciler.stages.proxy_support` is what the stages share.
"""
