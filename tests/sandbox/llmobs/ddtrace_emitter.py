"""Run by test_routes.py in a subprocess (ddtrace patches globally): only ddtrace's public LLMObs API, in agent mode
(DD_TRACE_AGENT_URL from the environment): a workflow span holding an llm span, and an evaluation of the llm span.
Prints the trace id, the llm span's id, and the export mode ddtrace chose (its internal `_export_mode`: apm_agent
with its default settings, the spans riding the APM trace; llmobs_agent_proxy with APM tracing off)."""
import sys
from ddtrace.llmobs import LLMObs

ml_app = sys.argv[1]
LLMObs.enable(ml_app=ml_app, agentless_enabled=False)
with LLMObs.workflow(name="handle_message") as wf:
    LLMObs.annotate(span=wf, input_data="hello", output_data="hi there", tags={"conversation": "c1"})
    with LLMObs.llm(model_name="gemini-2.5-flash", model_provider="google", name="chatbot") as llm:
        LLMObs.annotate(span=llm, input_data=[{"role": "user", "content": "hello"}],
                        output_data=[{"role": "assistant", "content": "hi there"}],
                        metrics={"input_tokens": 12, "output_tokens": 5, "total_tokens": 17})
        exported = LLMObs.export_span(span=llm)
LLMObs.submit_evaluation(span=exported, label="auditor_verdict", metric_type="categorical", value="pass",
                         ml_app=ml_app, assessment="pass")
LLMObs.flush()
print(exported["trace_id"], exported["span_id"], LLMObs._instance._export_mode.value)
