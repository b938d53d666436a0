"""Length-preserving rewrite of kernel C shapes that tree-sitter-c misreads.

tree-sitter-c parses C as written, but unpreprocessed kernel source is full of
shapes that only make sense after cpp: annotation words in declarators,
iterator macros used as loop headers, types passed to macros, and
``#if``/``#else`` branches that split one statement in two.  Each rule here
replaces bytes with bytes of the same length (spaces, or an identifier of the
same width), so every byte offset and line number of the parse is the
original one and findings point at the real source.

Inside a function the rules pick one configuration: the first branch of each
``#if`` is kept (the ``#else`` branches are blanked), except ``#if 0`` whose
body is blanked.  That is what a reader of the code does too: one coherent
function per parse.  At file scope every branch is kept, so that a function
defined in an ``#else`` branch is still found.
"""

from __future__ import annotations

import re

# Annotation words in declarators: "static int __init foo(void)",
# "static struct kmem_cache *vma_cachep __ro_after_init;".
_ANNOTATION_WORDS = frozenset(
    b"""__init __exit __read_mostly __always_inline __ro_after_init __ref __refdata
    __meminit __meminitdata __initdata __initconst __init_memblock __cold __hot
    __maybe_unused __always_unused __must_check noinline noinline_for_stack __noinline
    __weak __latent_entropy __noreturn __user __rcu __iomem __percpu __force __sched
    __fastpath_inline __visible notrace __pure __flatten __no_sanitize_address __nocfi
    __no_kcsan __no_kmsan_checks __used __packed __private __malloc __attribute_const__
    __nocapture __kprobes asmlinkage __bpf_kfunc""".split()
)
# Lower-case "__word", "noinline*", "notrace", "asmlinkage" not followed by "(":
# candidates; the set above decides.
_ANNOTATIONS = re.compile(rb"__[a-z_]+\b(?![\w(])")
_ANNOTATIONS_PLAIN = re.compile(rb"\b(?:noinline\w*|notrace|asmlinkage)\b(?![\w(])")
_ANNOTATION_CALLS = re.compile(
    rb"__(?:releases|acquires|must_hold|cond_acquires|cond_releases|printf|aligned|section|"
    rb"counted_by|alloc_size|assume_aligned)\s*\([^()\n]*\)"
)

# Macros used as loop headers or scoped blocks, inside a function body
# (indented, at the start of a line):
#     list_for_each_entry(vma, &mm->list, node) {
#     scoped_guard(spinlock, &huge_zero_lock) {
# become
#     while              (vma, &mm->list, node) {
#     while       (spinlock, &huge_zero_lock) {
# so the block stays the body (as a call it would be a call, then a block).
_ITERATOR_LOOP = re.compile(rb"(?m)^([ \t]+)(\w*for_?each\w*)([ \t]*)\(")
_BLOCK_OPEN = re.compile(rb"\)[ \t]*\{[ \t]*$", re.M)
_LINE_HEAD = re.compile(rb"([ \t]+)([A-Za-z_]\w*)([ \t]*)\(")
_KEYWORDS = {b"if", b"while", b"for", b"switch", b"return", b"sizeof", b"do", b"else", b"case"}

# "static DEFINE_RATELIMIT_STATE(rs, ...);" inside a function: the call stays.
_STATIC_DEFINE = re.compile(rb"(?m)^([ \t]+)(static)([ \t]+(?:DEFINE|DECLARE)_\w+\()")

# Type keywords passed as a macro argument: "min_t(unsigned long, a, b)",
# "container_of(p, struct folio, lru)": fused into one identifier.
_TYPE_ARG = re.compile(
    rb"([(,])(\s*)((?:const\s+)?(?:(?:struct|union|enum)\s+\w+|"
    rb"(?:(?:unsigned|signed|long|short|int|char|bool|void)\b\s*)+)(?:\s*\*+)?)(\s*)(?=[,)])"
)

# Only the conditionals: "#include" and "#define" lines are left to tree-sitter.
_DIRECTIVE = re.compile(rb"(?m)^[ \t]*#[ \t]*(if|ifdef|ifndef|else|elif|endif)\b(.*(?:\\\n.*)*)")


def _annotation(m: re.Match[bytes]) -> bytes:
    word = m.group(0)
    if word not in _ANNOTATION_WORDS:
        return word
    s = m.string
    if m.start() > 0 and (s[m.start() - 1 : m.start()].isalnum() or s[m.start() - 1] == 0x5F):
        return word  # the tail of a longer identifier ("foo__init")
    return b" " * len(word)


def _blank(data: bytes) -> bytes:
    """Spaces for every byte except newlines (lines stay where they are)."""
    return bytes(b if b == 0x0A else 0x20 for b in data)


def _fuse_type(match: re.Match[bytes]) -> bytes:
    delim, lead, typ, trail = match.group(1), match.group(2), match.group(3), match.group(4)
    if typ.strip() in (b"void",):
        return match.group(0)
    source = match.string
    before = source[max(0, match.start() - 64) : match.start() + 1]
    if before.endswith(b"("):
        # "min_t(" or "sizeof(" but not a cast "(unsigned long)x".
        head = before[:-1].rstrip()
        if not head or not (head[-1:].isalnum() or head[-1:] == b"_"):
            return match.group(0)
        word = re.search(rb"\w+$", head)
        if word is not None and word.group(0) in _KEYWORDS:
            return match.group(0)  # "return (unsigned long)x": a cast after a keyword
    fused = re.sub(rb"[\s*]", b"_", typ)
    # "int" alone is a keyword: make it an identifier of the same width.
    fused = fused[:1].upper() + fused[1:]
    return delim + lead + fused + trail


def _preprocessor(source: bytes) -> bytes:
    """Blank the directives of ``#if``/``#else``/``#endif`` and the branches
    that would split a statement.

    Inside a function body only the first branch is kept (the other ones
    would give one statement two heads).  At file scope every branch is kept:
    both are whole definitions, and the ``#else`` one may be the real
    function (``#ifndef CONFIG_X`` stub first, definition second).  ``#if 0``
    bodies are always blanked."""
    out = bytearray(source)
    # per open conditional: (blanking outside it, a branch was already kept, keep all)
    stack: list[tuple[bool, bool, bool]] = []
    blanking = False
    pos = 0
    depth = 0  # brace depth of the kept text, to tell file scope from a body
    counted = 0
    for m in _DIRECTIVE.finditer(source):
        word = m.group(1)
        if word not in (b"if", b"ifdef", b"ifndef", b"else", b"elif", b"endif"):
            continue
        if blanking:
            out[pos : m.start()] = _blank(source[pos : m.start()])
        segment = out[counted : m.start()]
        depth += segment.count(b"{") - segment.count(b"}")
        counted = m.end()
        if word in (b"if", b"ifdef", b"ifndef"):
            zero = word == b"if" and m.group(2).strip() in (b"0", b"(0)")
            stack.append((blanking, not zero, depth <= 0))
            blanking = blanking or zero
        elif not stack:
            pass  # a stray #else/#endif: blank the directive only
        elif word == b"endif":
            blanking = stack.pop()[0]
        else:
            parent, kept_first, keep_all = stack[-1]
            # "#if 0 ... #else": the else branch is the live one.
            blanking = parent or (kept_first and not keep_all)
            stack[-1] = (parent, True, keep_all)
        out[m.start() : m.end()] = _blank(m.group(0))
        pos = m.end()
    return bytes(out)


def _iterators(source: bytes) -> bytes:
    out = bytearray(source)
    matches: list[re.Match[bytes]] = []
    for b in _BLOCK_OPEN.finditer(source):
        head = _LINE_HEAD.match(source, source.rfind(b"\n", 0, b.start()) + 1)
        if head is not None:
            matches.append(head)
    if b"each" in source:
        matches += _ITERATOR_LOOP.finditer(source)
    for m in matches:
        name = m.group(2)
        if name in _KEYWORDS:
            continue
        loopish = b"for_each" in name or b"foreach" in name
        name_start, name_end = m.start(2), m.end(3)
        close = _matching_paren(source, m.end(3))
        if close is None:
            continue
        nxt = source[close + 1 : close + 64].lstrip(b" \t\\\n")
        if not nxt:
            continue
        if loopish:
            if nxt[:1] in (b";", b")", b",", b"=", b"?", b"&", b"|", b".") or nxt[:2] == b"->":
                continue  # a plain call, not a loop header
        elif nxt[:1] != b"{":
            continue
        width = name_end - name_start
        out[name_start:name_end] = b"while".ljust(width)
    return bytes(out)


def _matching_paren(source: bytes, open_at: int, limit: int = 4096) -> int | None:
    depth = 0
    end = min(len(source), open_at + limit)
    for i in range(open_at, end):
        c = source[i]
        if c == 0x28:
            depth += 1
        elif c == 0x29:
            depth -= 1
            if depth == 0:
                return i
    return None


def normalise(source: bytes) -> bytes:
    out = _preprocessor(source)
    out = _ANNOTATION_CALLS.sub(lambda m: _blank(m.group(0)), out)
    out = _ANNOTATIONS.sub(_annotation, out)
    if b"noinline" in out or b"notrace" in out or b"asmlinkage" in out:
        out = _ANNOTATIONS_PLAIN.sub(_annotation, out)
    out = _iterators(out)
    if b"static DEFINE_" in out or b"static DECLARE_" in out:
        out = _STATIC_DEFINE.sub(lambda m: m.group(1) + b"      " + m.group(3), out)
    out = _TYPE_ARG.sub(_fuse_type, out)
    if len(out) != len(source):  # a rule bug must not shift every line
        return source
    return out
