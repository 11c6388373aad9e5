"""Server-rendered self-service pages. They call the engine's services and the access rules;
none re-implements a rule."""
