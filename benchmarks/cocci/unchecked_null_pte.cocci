// unchecked-null-pte as a Coccinelle semantic patch, for the side-by-side
// benchmark in benchmarks/bench_checkers.py (same idea as checkers/unchecked_null_pte.py:
// a may-be-NULL pte pointer used before anything tests it).
//
// Confidence: Moderate
// Options: --no-includes --include-headers

virtual report

@r exists@
expression E, E1, E2;
identifier f =~ "^(pte_offset_map|pte_offset_map_lock|pte_offset_map_nolock|pte_offset_map_ro_nolock|pte_offset_map_rw_nolock|__pte_offset_map|pte_alloc_map|pte_alloc_map_lock|get_locked_pte)$";
position p;
@@

E = f(...);
... when != E
    when any
(
  ptep_get(E@p)
|
  E@p - E1
|
  E@p + E1
|
  *E@p
|
  E@p[E1]
|
  set_ptes(E1, E2, E@p, ...)
|
  set_pte_at(E1, E2, E@p, ...)
|
  update_mmu_cache_range(E1, E2, E, E@p, ...)
)

@script:python depends on r@
p << r.p;
@@
print("%s:%s: unchecked-null-pte" % (p[0].file, p[0].line))
