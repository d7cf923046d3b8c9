"""Pure core: plan grammar and parser, scheduling, options, records and prompt text; no SGLang import."""
