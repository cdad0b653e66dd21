"""Chat templates of Korean-capable checkpoints rendered by transformers, for malmoi-tokenize's Jinja renderer.

Writes crates/tokenize/tests/fixtures/chat_templates/cases.json: a list of
  {"template_name", "template", "bos_token", "eos_token", "messages", "tools", "add_generation_prompt",
   "expected"}                               the string apply_chat_template renders, or
  {..., "error": true, "error_message"}      when rendering raises (raise_exception in the template).

The five templates are copied from the tokenizer_config.json of the published checkpoints:
  llama3     meta-llama/Meta-Llama-3-8B-Instruct (<|start_header_id|>, bos_token, | trim)
  qwen2_5    Qwen/Qwen2.5-7B-Instruct (ChatML, default system message, tools and tool calls, tojson)
  llama2     meta-llama/Llama-2-7b-chat-hf ([INST], <<SYS>> block, raise_exception on bad alternation,
             "\\n" escapes inside Jinja string literals, str.strip())
  exaone3    LGAI-EXAONE/EXAONE-3.0-7.8B-Instruct ([|system|] ... [|endofturn|])
  gemma      google/gemma-2-9b-it (<start_of_turn>, system role raises, | trim)
Each is rendered with `PreTrainedTokenizerFast.apply_chat_template(messages, tools=tools, tokenize=False,
add_generation_prompt=...)`. transformers renders with an ImmutableSandboxedEnvironment(trim_blocks=True,
lstrip_blocks=True, extensions=[loopcontrols]), passes the special tokens (bos_token, eos_token, ...) and
`tools`, `raise_exception(msg)` raises TemplateError(msg), and `tojson` is json.dumps(ensure_ascii=False).
benches/reference/hf_model_fixtures.py imports TEMPLATES for the llama and qwen2 model fixtures.

Run (from anywhere):  python3 benches/reference/chat_template_fixtures.py
"""
import json
import pathlib

import transformers
from tokenizers import Tokenizer, models
from transformers import PreTrainedTokenizerFast

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "crates/tokenize/tests/fixtures/chat_templates"

LLAMA3 = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + "
    "message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
    "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)

QWEN2_5 = """{%- if tools %}
    {{- '<|im_start|>system\\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
    {%- endif %}
    {{- "\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>" }}
    {%- for tool in tools %}
        {{- "\\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}\\n</tool_call><|im_end|>\\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}
    {%- else %}
        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\\n<tool_call>\\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\\n<tool_response>\\n' }}
        {{- message.content }}
        {{- '\\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
"""

# The published Llama-2 template writes '\\n' in JSON: a backslash-n escape inside the Jinja string literal.
LLAMA2 = (
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = "
    "messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}"
    "{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + "
    "'\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}"
    "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}"
)

EXAONE3 = (
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "{{ '[|system|][|endofturn|]\n' }}{% endif %}{{ '[|' + message['role'] + '|]' + message['content'] }}"
    "{% if message['role'] == 'user' %}{{ '\n' }}{% else %}{{ '[|endofturn|]\n' }}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '[|assistant|]' }}{% endif %}"
)

GEMMA = (
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}"
    "{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}"
    "{% endif %}{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}"
)

# name -> (template, bos_token, eos_token) as the checkpoints' tokenizer_config.json set them.
TEMPLATES = {
    "llama3": (LLAMA3, "<|begin_of_text|>", "<|eot_id|>"),
    "qwen2_5": (QWEN2_5, None, "<|im_end|>"),
    "llama2": (LLAMA2, "<s>", "</s>"),
    "exaone3": (EXAONE3, "[BOS]", "[|endofturn|]"),
    "gemma": (GEMMA, "<bos>", "<eos>"),
}


def msg(role, content):
    return {"role": role, "content": content}


SYSTEM = msg("system", "당신은 친절한 한국어 영화 추천 도우미입니다.")
CONVERSATIONS = {
    "user_only": [msg("user", "요즘 볼 만한 영화 추천해 줘")],
    "system_user": [SYSTEM, msg("user", "공포 영화 하나만 알려줘")],
    "multi_turn": [msg("user", "안녕하세요"), msg("assistant", "안녕하세요! 무엇을 도와드릴까요?"),
                   msg("user", "이 영화 평점이 왜 낮아?")],
    "system_multi_turn_ends_assistant": [SYSTEM, msg("user", "재밌는 영화?"), msg("assistant", "기생충을 추천합니다.")],
    "whitespace_content": [msg("user", "  \n앞뒤 공백과 줄바꿈\n\n  "), msg("assistant", "\t답변입니다 \n"),
                           msg("user", "English and 한국어 mixed! 😀")],
    "two_users_in_a_row": [msg("user", "첫 질문"), msg("user", "두 번째 질문")],
    "assistant_first": [msg("assistant", "먼저 말하는 도우미"), msg("user", "네?")],
    "system_only": [SYSTEM],
}
TOOLS = [{"type": "function", "function": {
    "name": "get_movie_rating", "description": "영화의 평점을 조회합니다.",
    "parameters": {"type": "object", "properties": {"title": {"type": "string", "description": "영화 제목"}},
                   "required": ["title"]}}}]
TOOL_CONVERSATION = [
    msg("user", "기생충 평점 알려줘"),
    {"role": "assistant", "content": "", "tool_calls": [
        {"type": "function", "function": {"name": "get_movie_rating", "arguments": {"title": "기생충"}}}]},
    msg("tool", "{\"rating\": 9.1}"),
    msg("tool", "{\"votes\": 12000}"),
]


def stub_tokenizer(bos, eos):
    """A PreTrainedTokenizerFast whose only job is to carry the special tokens into the template."""
    specials = [t for t in (bos, eos, "<unk>") if t is not None]
    tok = Tokenizer(models.WordLevel({t: i for i, t in enumerate(specials)}, unk_token="<unk>"))
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=bos, eos_token=eos, unk_token="<unk>")


def render(name, template, bos, eos, messages, tools, add_generation_prompt):
    case = {"template_name": name, "template": template, "bos_token": bos, "eos_token": eos, "messages": messages,
            "tools": tools, "add_generation_prompt": add_generation_prompt}
    try:
        case["expected"] = stub_tokenizer(bos, eos).apply_chat_template(
            messages, tools=tools, chat_template=template, tokenize=False, add_generation_prompt=add_generation_prompt)
    except Exception as e:  # transformers raises jinja2 TemplateError from raise_exception
        case["error"] = True
        case["error_message"] = f"{type(e).__name__}: {e}"
    return case


def all_cases():
    cases = []
    for name, (template, bos, eos) in TEMPLATES.items():
        for messages in CONVERSATIONS.values():
            for add_generation_prompt in (True, False):
                cases.append(render(name, template, bos, eos, messages, None, add_generation_prompt))
    template, bos, eos = TEMPLATES["qwen2_5"]
    cases.append(render("qwen2_5", template, bos, eos, CONVERSATIONS["system_user"], TOOLS, True))
    cases.append(render("qwen2_5", template, bos, eos, CONVERSATIONS["user_only"], TOOLS, False))
    cases.append(render("qwen2_5", template, bos, eos, TOOL_CONVERSATION, None, True))
    return cases


def main():
    cases = all_cases()
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "cases.json"
    path.write_text(json.dumps(cases, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    errors = sum(1 for c in cases if c.get("error"))
    print(f"transformers {transformers.__version__}: {len(cases)} cases ({errors} raise), "
          f"{path.relative_to(ROOT)} {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
