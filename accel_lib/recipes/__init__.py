"""Recipes: combinations of techniques from the five parts (techniques never import recipes)."""
