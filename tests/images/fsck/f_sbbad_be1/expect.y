** ./case.img
BAD SUPER BLOCK: superblock at byte 8192: superblock geometry is invalid: fs_bsize 3 is not a power of two in 4096..=65536

LOOK FOR ALTERNATE SUPERBLOCKS? yes

USING ALTERNATE SUPERBLOCK AT 32
** Last Mounted on 
** Phase 1 - Check Blocks and Sizes
** Phase 2 - Check Pathnames
** Phase 3 - Check Connectivity
** Phase 4 - Check Reference Counts
** Phase 5 - Check Cyl groups
2063 files, 3554 used, 4261 free (5 frags, 532 blocks, 0.1% fragmentation)

UPDATE STANDARD SUPERBLOCK? yes


***** FILE SYSTEM IS CLEAN *****

***** FILE SYSTEM WAS MODIFIED *****
Exit status is 1
