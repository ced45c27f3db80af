/* rmaplint-fuzz: {"helpers":[{"ret":"void","body":[["probe",1],["if1",["try","down_read_trylock",false,null],["work"]],["probe",2],["op","up_read"],["probe",3]],"try":null}],"body":[["probe",4],["call",0],["probe",5]],"epilogue":[["out",[["probe",6]]]]} */
/* Found by tests/test_fuzz_soundness.py (hypothesis, seed 13). helper0() trylocks z->sem and releases it on both outcomes: not held after the call; the summary dropped the success path's acquire->release pair and kept it unknown (fixed: Action.PAIR). */
static void helper0(struct foo *x, struct bar *y, struct baz *z)
{
	int ret = 0;
	unsigned long flags;
	struct item *pos;
	int i;
	int n = 8;

	probe(1);
	if (down_read_trylock(&z->sem))
		ret = do_work(n);
	probe(2);
	up_read(&z->sem);
	probe(3);
}

int fuzz(struct foo *a, struct bar *b, struct baz *c, int n)
{
	int ret = 0;
	unsigned long flags;
	struct item *pos;
	int i;
	struct foo *p = a;

	probe(4);
	helper0(a, b, c);
	probe(5);
out:
	probe(6);
	return ret;
}
