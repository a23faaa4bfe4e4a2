"""Preparedness: shelters (安置点), community emergency plans (应急工作预案) and their
activation by incidents."""
