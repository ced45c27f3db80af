/* rmaplint-fuzz: {"helpers":[{"ret":"void","body":[["probe",1],["op","down_read"],["probe",2],["tryvar","down_write_trylock",false,[["probe",3]],null],["probe",4],["tryvar","down_read_trylock",false,[["probe",5]],null],["probe",6]],"try":null}],"body":[["probe",7],["call",0],["probe",8]],"epilogue":[["out",[["probe",9]]]]} */
/* Found by tests/test_fuzz_soundness.py (hypothesis, seed 7). helper0() assigns two trylocks' outcomes to one variable in turn: its summary kept the first outcome as the variable's tracked value, so the second trylock could only agree with the first, and the write-locked path (first succeeded, second failed) was lost from the summary. */
static void helper0(struct foo *x, struct bar *y, struct baz *z)
{
	int ret = 0;
	unsigned long flags;
	struct item *pos;
	int i;
	int n = 8;

	probe(1);
	down_read(&z->sem);
	probe(2);
	ret = down_write_trylock(&z->sem);
	if (ret) {
		probe(3);
	}
	probe(4);
	ret = down_read_trylock(&z->sem);
	if (ret) {
		probe(5);
	}
	probe(6);
}

int fuzz(struct foo *a, struct bar *b, struct baz *c, int n)
{
	int ret = 0;
	unsigned long flags;
	struct item *pos;
	int i;
	struct foo *p = a;

	probe(7);
	helper0(a, b, c);
	probe(8);
out:
	probe(9);
	return ret;
}
