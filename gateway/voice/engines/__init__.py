"""Speech recognisers behind one interface (`gateway.voice.engines.base`)."""
