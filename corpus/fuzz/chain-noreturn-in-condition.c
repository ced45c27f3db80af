/* rmaplint-fuzz: {"helpers":[{"ret":"void","body":[["probe",1],["if",["call",1,false],[["probe",2],["work"],["probe",3]],null],["probe",4]],"file":0,"try":null},{"ret":"bool","body":[["probe",5],["call",2],["probe",6]],"file":0,"try":"down_read_trylock"},{"ret":"void","body":[["probe",7],["block",[["probe",8],["while",["const",1],[["probe",9]]],["probe",10]]],["probe",11]],"file":1,"try":null}],"body":[["probe",12],["call",0],["probe",13],["op","down_read"],["probe",14]],"epilogue":[["out",[["probe",15]]]]} */
/* Found by tests/test_fuzz_soundness.py (chains, hypothesis, seed 7). helper2() (another file) never returns; helper1() calls it, and helper0() tests helper1()'s result in an if: nothing after the call to helper0() is reachable. A call that never returns in a branch's condition did not end the path. */
void helper2(struct foo *x, struct bar *y, struct baz *z);

static void helper0(struct foo *x, struct bar *y, struct baz *z)
{
	int ret = 0;
	unsigned long flags;
	struct item *pos;
	int i;
	int n = 8;

	probe(1);
	if (helper1(x, y, z)) {
		probe(2);
		ret = do_work(n);
		probe(3);
	}
	probe(4);
}

static bool helper1(struct foo *x, struct bar *y, struct baz *z)
{
	int ret = 0;
	unsigned long flags;
	struct item *pos;
	int i;
	int n = 8;

	probe(5);
	helper2(x, y, z);
	probe(6);
	return down_read_trylock(&z->sem);
}

int fuzz(struct foo *a, struct bar *b, struct baz *c, int n)
{
	int ret = 0;
	unsigned long flags;
	struct item *pos;
	int i;
	struct foo *p = a;

	probe(12);
	helper0(a, b, c);
	probe(13);
	down_read(&c->sem);
	probe(14);
out:
	probe(15);
	return ret;
}
