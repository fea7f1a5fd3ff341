"""HTTP DTOs (pydantic models for the routes' bodies and ``response_model``); none yet."""
