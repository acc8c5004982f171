-- Every call of `calls` (a CTE the code puts before this, one row per call, with the
-- columns of `rollup::CALL_COLUMNS`) with its currency and cost: the CTE `priced`. The
-- prices that can apply to the calls' models are cut into segments (from one
-- `effective_from` to the next, each with the most specific price in force: an exact model
-- name over a prefix, a longer prefix over a shorter, then the newest), so a call is priced
-- by a join on its model and time, not a lookup per call. A call no segment covers is
-- unpriced: its currency and cost are NULL. Each token kind is charged at its own rate:
-- cached prompt tokens at the cached-input price, reasoning tokens at the reasoning-output
-- price, each falling back to the input or output price where the model has none; a call
-- that records neither kind is charged as every prompt token input and every completion
-- token output.
models AS (SELECT DISTINCT vendor, model_name FROM calls),
candidates AS (
    SELECT m.vendor, m.model_name, p.effective_from, p.input_per_million,
           p.output_per_million, p.cached_input_per_million, p.reasoning_output_per_million,
           p.currency, p.model = m.model_name AS exact, length(p.model) AS specificity
    FROM models m JOIN llm_model_prices p ON p.vendor = m.vendor
     AND (p.model = m.model_name
          OR (right(p.model, 1) = '*' AND starts_with(m.model_name, left(p.model, -1))))),
starts AS (SELECT DISTINCT vendor, model_name, effective_from FROM candidates),
segments AS (
    SELECT s.vendor, s.model_name, s.effective_from AS valid_from,
           lead(s.effective_from) OVER (PARTITION BY s.vendor, s.model_name
                                        ORDER BY s.effective_from) AS valid_to,
           best.input_per_million, best.output_per_million, best.currency,
           coalesce(best.cached_input_per_million, best.input_per_million) AS cached_per_million,
           coalesce(best.reasoning_output_per_million, best.output_per_million) AS reasoning_per_million
    FROM starts s CROSS JOIN LATERAL (
        SELECT c.input_per_million, c.output_per_million, c.cached_input_per_million,
               c.reasoning_output_per_million, c.currency FROM candidates c
        WHERE c.vendor = s.vendor AND c.model_name = s.model_name
          AND c.effective_from <= s.effective_from
        ORDER BY c.exact DESC, c.specificity DESC, c.effective_from DESC LIMIT 1) best),
priced AS (
    SELECT calls.*, seg.currency,
           ((calls.prompt_tokens - calls.cached_prompt_tokens) * seg.input_per_million
            + calls.cached_prompt_tokens * seg.cached_per_million
            + (calls.completion_tokens - calls.reasoning_tokens) * seg.output_per_million
            + calls.reasoning_tokens * seg.reasoning_per_million) / 1000000 AS cost
    FROM calls LEFT JOIN segments seg
      ON seg.vendor = calls.vendor AND seg.model_name = calls.model_name
     AND calls.created_at >= seg.valid_from
     AND (seg.valid_to IS NULL OR calls.created_at < seg.valid_to))
